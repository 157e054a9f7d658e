/* tool.h - subcommands of the `myrixen` command. */
#ifndef MYRIXEN_TOOL_H
#define MYRIXEN_TOOL_H

int cmd_info(int argc, char **argv);
int cmd_counters(int argc, char **argv);
int cmd_peers(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* limits.c: the machine's limits, measured in the same run as a bench */
double limit_pingpong_us(int iters);
double limit_memcpy_MBps(void);

#endif
