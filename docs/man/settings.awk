# settings.awk - the settings table of docs/settings.md (rows "| `key` | type | default | meaning |") as scdoc
# terms for sbx.json(5): the one table of settings in the docs, checked against the code by build/tests/test_config.
function esc(s) {
	gsub(/`/, "", s)
	gsub(/\\/, "\\\\", s)
	gsub(/\*/, "\\*", s)
	gsub(/_/, "\\_", s)
	return s
}
/^\| `[^`]+` \|/ {
	n = split($0, f, / \| /)
	key = f[1]; sub(/^\| /, "", key)
	meaning = f[4]; sub(/ \|$/, "", meaning)
	printf "*%s* (%s, default: %s)\n\t%s\n\n", esc(key), esc(f[2]), esc(f[3]), esc(meaning)
}
