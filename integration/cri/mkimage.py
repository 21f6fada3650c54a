#!/usr/bin/python3
"""mkimage.py - build the engine suites' test image (busybox-static + sbx-probe) without any registry.

  mkimage.py rootfs ROOTFS_DIR OUT.tar          plain rootfs tarball (docker import, podman import)
  mkimage.py oci ROOTFS_DIR OUT.tar NAME:TAG     OCI image layout archive (ctr images import)
"""
import hashlib
import io
import json
import os
import sys
import tarfile


def rootfs_tar(rootfs):
    """The rootfs as an uncompressed tar in memory, owned by root, with fixed mtimes so digests are stable."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for top, dirs, files in os.walk(rootfs):
            dirs.sort()
            for name in sorted(dirs) + sorted(files):
                path = os.path.join(top, name)
                info = tar.gettarinfo(path, arcname=os.path.relpath(path, rootfs))
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mtime = 0
                if info.isreg():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
    return buf.getvalue()


def add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def descriptor(media_type, data):
    return {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}


def oci_archive(rootfs, out, ref):
    layer = rootfs_tar(rootfs)
    config = json.dumps({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sleep", "2147483647"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
    }, sort_keys=True).encode()
    config_desc = descriptor("application/vnd.oci.image.config.v1+json", config)
    layer_desc = descriptor("application/vnd.oci.image.layer.v1.tar", layer)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": config_desc, "layers": [layer_desc]}, sort_keys=True).encode()
    manifest_desc = descriptor("application/vnd.oci.image.manifest.v1+json", manifest)
    manifest_desc["annotations"] = {"io.containerd.image.name": ref,
                                    "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[-1]}
    index = json.dumps({"schemaVersion": 2, "manifests": [manifest_desc]}, sort_keys=True).encode()
    with tarfile.open(out, "w") as tar:
        add_bytes(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add_bytes(tar, "index.json", index)
        for blob in (config, layer, manifest):
            add_bytes(tar, "blobs/sha256/" + hashlib.sha256(blob).hexdigest(), blob)


def main(argv):
    if len(argv) == 4 and argv[1] == "rootfs":
        with open(argv[3], "wb") as f:
            f.write(rootfs_tar(argv[2]))
    elif len(argv) == 5 and argv[1] == "oci":
        oci_archive(argv[2], argv[3], argv[4])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
