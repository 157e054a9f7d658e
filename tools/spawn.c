/* spawn.c - see spawn.h. */
#include "spawn.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPAWN_WAIT_TRIES 500 /* 10 ms each */

pid_t backend_spawn(const char *bin, const char *sock)
{
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    const char *level = getenv("MYRIXEN_LOG");
    setenv("MYRIXEN_LOG", level ? level : "warn", 1);
    execl(bin, bin, "--socket", sock, (char *)NULL);
    perror("exec myrixend");
    _exit(127);
  }
  for (int i = 0; i < SPAWN_WAIT_TRIES; i++) {
    struct stat st;
    if (stat(sock, &st) == 0)
      return pid;
    usleep(10000);
  }
  return -1;
}
