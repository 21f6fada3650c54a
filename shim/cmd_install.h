/* cmd_install.h - `sbx install|uninstall ENGINE`: register sbx-runtime in an engine's configuration and undo it. */
#ifndef SBX_CMD_INSTALL_H
#define SBX_CMD_INSTALL_H

/* argv[0] is "install" / "uninstall"; the rest are options and the engine name (docker, podman, containerd,
   crio).  Return the exit status: 0 done (or nothing to do), 1 failed, 2 usage. */
int sbx_cmd_install (int argc, char **argv);
int sbx_cmd_uninstall (int argc, char **argv);

#endif
