/* commands.h - the subcommands of the human CLI `sbx`, each in its own shim/cmd_*.c file. */
#ifndef SBX_COMMANDS_H
#define SBX_COMMANDS_H

/* Each takes the arguments from its own name on (argv[0] is the subcommand) and returns the exit status. */
int sbx_cmd_version (int argc, char **argv);
int sbx_cmd_run (int argc, char **argv);
int sbx_cmd_profile (int argc, char **argv);
int sbx_cmd_watch (int argc, char **argv);
int sbx_cmd_events (int argc, char **argv);
int sbx_cmd_metrics (int argc, char **argv);
int sbx_cmd_doctor (int argc, char **argv);

#endif
