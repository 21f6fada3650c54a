#!/bin/sh
# prepare-host.sh - host steps the delegates need before containers can start (idempotent).
# crun 1.8 refuses hybrid cgroup hosts while cgroup2 holds a controller; on such hosts only hugetlb sits there,
# and moving it to a v1 hierarchy lets crun start.  Nothing else on the host is touched.
set -eu
unified=/sys/fs/cgroup/unified
if [ -d "$unified" ] && [ -r "$unified/cgroup.controllers" ] && grep -qw hugetlb "$unified/cgroup.controllers"; then
	if ! mountpoint -q /sys/fs/cgroup/hugetlb 2>/dev/null; then
		mkdir -p /sys/fs/cgroup/hugetlb
		mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
		echo "prepare-host: moved the hugetlb controller to /sys/fs/cgroup/hugetlb (cgroup v1) for crun"
	fi
fi
