/*
 * vm.c - `myrixen vm`: QEMU virtual machines as guests.
 *
 *   myrixen vm image [--out DIR]
 *   myrixen vm run --name NAME [--mem 256M] [--kvm] [--plain] [--image DIR]
 *                  [--net listen:PORT|connect:PORT --ip ADDR/LEN] [--timeout S] -- CMD ARGS...
 *
 * `run` is the VM's launcher.  It says hello to the backend as a VM
 * (CTL_ROLE_VM) and gets two sealed memfds: the VM's region and its RAM.
 * QEMU maps both: the RAM as the machine's memory (so the engine reaches
 * the VM's buffers by guest-physical address, with no copy through the
 * hypervisor), the region as the BAR2 of an ivshmem device (where the
 * VM's libmyrixen finds its rings and mailbox).  The device is
 * ivshmem-doorbell, this launcher its server (ivshmem_server.c): the VM
 * rings the engine through it.  With --plain it is ivshmem-plain, which
 * has no doorbell: the engine then polls the VM's rings.  The VM lives as long
 * as this connection: when QEMU exits, however it exits, the launcher
 * exits and the backend reclaims the VM; if the launcher dies, QEMU dies
 * with it (PR_SET_PDEATHSIG).  The guest's /init prints the command's
 * exit status on the console, which becomes the launcher's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../src/common/clock.h"
#include "../src/common/ctl.h"
#include "ivshmem_server.h"
#include "spawn.h"
#include "tool.h"

#define STATUS_MARK "myrixen-vm: exit status "
#define RUN_MARK "myrixen-vm: running "

/* What lives beside this binary's build/bin: build/LEAF. */
static void default_dir(char *out, size_t len, const char *leaf)
{
  char rel[256];
  snprintf(rel, sizeof(rel), "../%s", leaf);
  if (beside_self(rel, out, len) < 0)
    out[0] = 0;
}

static int cmd_vm_image(int argc, char **argv)
{
  char out[PATH_MAX], bin[PATH_MAX], script[PATH_MAX];
  const char *env = getenv("MYRIXEN_VM_IMAGE");
  if (env)
    snprintf(out, sizeof(out), "%s", env);
  else
    default_dir(out, sizeof(out), "vm");
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--out") && i + 1 < argc) {
      snprintf(out, sizeof(out), "%s", argv[++i]);
    } else {
      fprintf(stderr, "usage: myrixen vm image [--out DIR]\n");
      return 2;
    }
  }
  default_dir(bin, sizeof(bin), "static"); /* the statically linked programs */
  default_dir(script, sizeof(script), "../tools/vm/image.sh");
  const char *s = getenv("MYRIXEN_VM_SCRIPT");
  execlp("sh", "sh", s ? s : script, out, bin, (char *)NULL);
  fprintf(stderr, "myrixen vm image: cannot run %s: %s\n", script, strerror(errno));
  return 1;
}

struct vm_opts {
  const char *name, *image, *net, *ip;
  uint32_t mem_mb;
  int kvm;
  int plain;                    /* ivshmem-plain: no doorbell, the engine polls */
  int timeout_s;
  char **cmd;
};

static uint32_t parse_mem(const char *s)
{
  char *end;
  unsigned long v = strtoul(s, &end, 10);
  if (*end == 'G' || *end == 'g')
    v *= 1024;
  else if (*end && *end != 'M' && *end != 'm')
    return 0;
  return v > CTL_VM_MEM_MAX_MB ? 0 : (uint32_t)v;
}

/* Admission: the backend's region and RAM for this VM, and the socket
 * whose life is the VM's.  0, or -1 (said why). */
static int vm_admit(const struct vm_opts *o, int *sock, int *region_fd, int *ram_fd,
                    int *doorbell, uint64_t *region_len)
{
  const char *path = ctl_socket_path();
  *sock = ctl_connect(path, 0);
  if (*sock < 0) {
    fprintf(stderr, "myrixen vm: cannot reach the backend at %s (is myrixend running?)\n", path);
    return -1;
  }
  struct ctl_msg m;
  struct ctl_msg *rep = malloc(sizeof(*rep) + CTL_TEXT_MAX);
  int fds[CTL_MAX_FDS], n = 0;
  ctl_init(&m, CTL_HELLO, 1);
  m.u.hello.role = CTL_ROLE_VM;
  m.u.hello.datapath = DP_ENGINE;
  m.u.hello.vm_mem_mb = o->mem_mb;
  m.u.hello.vm_flags = o->plain ? 0 : CTL_VM_DOORBELL;
  snprintf(m.u.hello.name, sizeof(m.u.hello.name), "%s", o->name);
  if (!rep || ctl_send(*sock, &m, NULL, 0) < 0 ||
      ctl_recv(*sock, rep, sizeof(*rep) + CTL_TEXT_MAX, fds, &n) <= 0) {
    fprintf(stderr, "myrixen vm: no answer from the backend\n");
    free(rep);
    return -1;
  }
  if (rep->type != CTL_REPLY || n != 3) {
    fprintf(stderr, "myrixen vm: the backend refused the VM: %.*s\n",
            rep->type == CTL_ERROR ? (int)rep->len : 0, rep->text);
    ctl_close_fds(fds, n);
    free(rep);
    return -1;
  }
  *region_fd = fds[0];
  *ram_fd = fds[1];
  *doorbell = fds[2];
  *region_len = rep->u.hello_reply.region_size;
  free(rep);
  return 0;
}

/* s in single quotes for the guest's shell, base64-encoded onto out:
 * the kernel's command line splits at spaces and drops quotes, so the
 * command travels encoded and the guest's /init decodes and evals it. */
static size_t shell_quote(const char *s, char *out, size_t cap, size_t k)
{
  if (k < cap)
    out[k++] = '\'';
  for (; *s && k + 4 < cap; s++) {
    if (*s == '\'') {
      memcpy(out + k, "'\\''", 4);
      k += 4;
    } else {
      out[k++] = *s;
    }
  }
  if (k + 2 < cap) {
    out[k++] = '\'';
    out[k++] = ' ';
  }
  return k;
}

static void base64(const unsigned char *in, size_t n, char *out)
{
  static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t k = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                 (i + 2 < n ? in[i + 2] : 0);
    out[k++] = t[v >> 18 & 63];
    out[k++] = t[v >> 12 & 63];
    out[k++] = i + 1 < n ? t[v >> 6 & 63] : '=';
    out[k++] = i + 2 < n ? t[v & 63] : '=';
  }
  out[k] = 0;
}

/* The kernel command line: console, no reboot on panic, the VM's name,
 * network and command.  0, or -1 when the command is too long for it. */
static int vm_append(const struct vm_opts *o, char *buf, size_t len)
{
  char cmd[1200], enc[1700];
  size_t c = 0;
  for (char **a = o->cmd; *a; a++)
    c = shell_quote(*a, cmd, sizeof(cmd), c);
  if (c + 8 >= sizeof(cmd))
    return -1;
  base64((const unsigned char *)cmd, c, enc);
  size_t k = (size_t)snprintf(buf, len, "console=ttyS0 quiet panic=-1 myrixen_name=%s%s%s myrixen_cmd=%s",
                              o->name, o->ip ? " myrixen_ip=" : "", o->ip ? o->ip : "", enc);
  return k < len ? 0 : -1;
}


/* QEMU, with the region and the RAM as the descriptors it inherits, its
 * console on out (a pipe).  Its pid, or -1. */
static pid_t qemu_start(const struct vm_opts *o, int region_fd, int ram_fd, uint64_t region_len,
                        const char *server, int out)
{
  char kernel[PATH_MAX], initrd[PATH_MAX], mem[64], ram_obj[256], rg_obj[256], append[2048],
      netdev[128], chardev[PATH_MAX + 64];
  int long_path = (size_t)snprintf(kernel, sizeof(kernel), "%s/vmlinuz", o->image) >=
                      sizeof(kernel) ||
                  (size_t)snprintf(initrd, sizeof(initrd), "%s/initrd.gz", o->image) >=
                      sizeof(initrd);
  if (long_path || access(kernel, R_OK) < 0 || access(initrd, R_OK) < 0) {
    fprintf(stderr, "myrixen vm: no image in %s (run: myrixen vm image)\n", o->image);
    return -1;
  }
  snprintf(mem, sizeof(mem), "%uM", o->mem_mb);
  snprintf(ram_obj, sizeof(ram_obj),
           "memory-backend-file,id=mem,size=%uM,mem-path=/proc/self/fd/%d,share=on", o->mem_mb,
           ram_fd);
  snprintf(rg_obj, sizeof(rg_obj),
           "memory-backend-file,id=myrixen,size=%llu,mem-path=/proc/self/fd/%d,share=on",
           (unsigned long long)region_len, region_fd);
  if (vm_append(o, append, sizeof(append)) < 0) {
    fprintf(stderr, "myrixen vm: the command is too long for a kernel command line\n");
    return -1;
  }
  const char *argv[48];
  int n = 0;
#define ARG2(a, b) (argv[n++] = (a), argv[n++] = (b))
  argv[n++] = "qemu-system-x86_64";
  if (o->kvm)
    argv[n++] = "-enable-kvm";
  else
    ARG2("-accel", "tcg");
  ARG2("-machine", "q35,memory-backend=mem");
  ARG2("-m", mem);
  ARG2("-object", ram_obj);
  if (o->plain) {
    ARG2("-object", rg_obj);
    ARG2("-device", "ivshmem-plain,memdev=myrixen");
  } else {
    /* the region comes from the server (this launcher), with the doorbell */
    snprintf(chardev, sizeof(chardev), "socket,id=myrixen,path=%s", server);
    ARG2("-chardev", chardev);
    ARG2("-device", "ivshmem-doorbell,chardev=myrixen,vectors=1");
  }
  ARG2("-kernel", kernel);
  ARG2("-initrd", initrd);
  ARG2("-append", append);
  ARG2("-display", "none");
  ARG2("-serial", "stdio");
  ARG2("-monitor", "none");
  argv[n++] = "-no-reboot";
  argv[n++] = "-nodefaults";
  if (o->net) {
    /* the split-driver baseline: virtio-net, joined to the other VM by
     * QEMU's socket netdev */
    const char *port = strchr(o->net, ':');
    snprintf(netdev, sizeof(netdev), "socket,id=n0,%s=127.0.0.1:%s",
             !strncmp(o->net, "listen", 6) ? "listen" : "connect", port ? port + 1 : "0");
    ARG2("-netdev", netdev);
    ARG2("-device", "virtio-net-pci,netdev=n0");
  }
#undef ARG2
  argv[n] = NULL;
  pid_t pid = fork();
  if (pid != 0)
    return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* the launcher's death is the VM's */
  int fl = fcntl(region_fd, F_GETFD);
  fcntl(region_fd, F_SETFD, fl & ~FD_CLOEXEC);
  fl = fcntl(ram_fd, F_GETFD);
  fcntl(ram_fd, F_SETFD, fl & ~FD_CLOEXEC);
  int null = open("/dev/null", O_RDONLY);
  dup2(null, 0);
  dup2(out, 1);
  dup2(out, 2);
  execvp(argv[0], (char **)argv);
  fprintf(stderr, "myrixen vm: cannot run qemu-system-x86_64: %s\n", strerror(errno));
  _exit(127);
}

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig)
{
  stop_signal = sig;
}

/* Stream the console until QEMU exits; the guest's status line sets
 * *status.  A progress line shows on a terminal while the VM boots. */
static void console_stream(const struct vm_opts *o, int in, int *status)
{
  char buf[4096], line[4096];
  size_t ll = 0;
  int tty = isatty(2), booted = 0;
  uint64_t t0 = clock_now_ns();
  if (!tty)
    fprintf(stderr, "myrixen vm: booting %s under %s\n", o->name, o->kvm ? "KVM" : "TCG");
  for (;;) {
    if (stop_signal)
      break;
    if (!booted && tty)
      fprintf(stderr, "\rmyrixen vm: booting %s under %s ... %.0f s", o->name,
              o->kvm ? "KVM" : "TCG", (double)(clock_now_ns() - t0) / 1e9);
    struct timeval tv = {0, 500000};
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(in, &rd);
    int k = select(in + 1, &rd, NULL, NULL, &tv);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      continue;
    ssize_t n = read(in, buf, sizeof(buf));
    if (n <= 0)
      break;
    for (ssize_t i = 0; i < n; i++) {
      char c = buf[i];
      if (c == '\r')
        continue;
      if (c != '\n' && ll < sizeof(line) - 1) {
        line[ll++] = c;
        continue;
      }
      line[ll] = 0;
      ll = 0;
      if (!strncmp(line, RUN_MARK, strlen(RUN_MARK))) {
        if (tty)
          fprintf(stderr, "\r\033[K");
        fprintf(stderr, "myrixen vm: %s booted in %.1f s\n", o->name,
                (double)(clock_now_ns() - t0) / 1e9);
        booted = 1;
        continue;
      }
      if (!strncmp(line, STATUS_MARK, strlen(STATUS_MARK))) {
        *status = atoi(line + strlen(STATUS_MARK));
        continue;
      }
      if (strstr(line, "reboot: Power down"))
        continue; /* the kernel's last word, even when quiet */
      printf("%s\n", line);
      fflush(stdout);
    }
  }
  if (!booted && tty)
    fprintf(stderr, "\n");
}

static int cmd_vm_run(int argc, char **argv)
{
  char image[PATH_MAX];
  struct vm_opts o = {.name = "vm", .mem_mb = 256};
  const char *env = getenv("MYRIXEN_VM_IMAGE");
  if (env)
    snprintf(image, sizeof(image), "%s", env);
  else
    default_dir(image, sizeof(image), "vm");
  o.image = image;
  int i;
  for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--kvm")) {
      o.kvm = 1;
      continue;
    }
    if (!strcmp(a, "--plain")) {
      o.plain = 1;
      continue;
    }
    if (!v)
      goto usage;
    i++;
    if (!strcmp(a, "--name"))
      o.name = v;
    else if (!strcmp(a, "--mem"))
      o.mem_mb = parse_mem(v);
    else if (!strcmp(a, "--image"))
      o.image = v;
    else if (!strcmp(a, "--net"))
      o.net = v;
    else if (!strcmp(a, "--ip"))
      o.ip = v;
    else if (!strcmp(a, "--timeout"))
      o.timeout_s = atoi(v);
    else
      goto usage;
  }
  if (i >= argc - 1 || !o.mem_mb || strlen(o.name) > 31 || strspn(o.name,
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != strlen(o.name))
    goto usage;
  if (o.net && (strncmp(o.net, "listen:", 7) && strncmp(o.net, "connect:", 8)))
    goto usage;
  o.cmd = argv + i + 1;

  int sock, region_fd, ram_fd, doorbell, pipefd[2];
  uint64_t region_len;
  struct ivshmem_server srv = {.lsock = -1, .conn = -1, .own = -1};
  if (vm_admit(&o, &sock, &region_fd, &ram_fd, &doorbell, &region_len) < 0)
    return 1;
  if (pipe2(pipefd, O_CLOEXEC) < 0 || (!o.plain && ivshmem_listen(&srv) < 0)) {
    fprintf(stderr, "myrixen vm: cannot set up: %s\n", strerror(errno));
    return 1;
  }
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  sigaction(SIGALRM, &sa, NULL);
  if (o.timeout_s > 0)
    alarm((unsigned)o.timeout_s);
  pid_t qemu_pid = qemu_start(&o, region_fd, ram_fd, region_len, srv.path, pipefd[1]);
  if (qemu_pid > 0 && !o.plain && ivshmem_serve(&srv, region_fd, doorbell, 30000) < 0) {
    fprintf(stderr, "myrixen vm: %s: QEMU did not take its ivshmem device\n", o.name);
    kill(qemu_pid, SIGKILL);
  }
  close(doorbell);
  close(pipefd[1]);
  close(region_fd);
  close(ram_fd);
  int status = -1;
  if (qemu_pid > 0)
    console_stream(&o, pipefd[0], &status);
  if (qemu_pid > 0 && stop_signal) {
    fprintf(stderr, "myrixen vm: %s: %s: stopping the VM\n", o.name,
            stop_signal == SIGALRM ? "timeout" : strsignal(stop_signal));
    kill(qemu_pid, SIGKILL);
  }
  int ws = 0;
  if (qemu_pid > 0)
    waitpid(qemu_pid, &ws, 0);
  close(pipefd[0]);
  ivshmem_close(&srv);
  close(sock); /* the backend reclaims the VM */
  if (status >= 0)
    return status;
  if (qemu_pid > 0 && !stop_signal)
    fprintf(stderr, "myrixen vm: %s: QEMU ended (%s %d) before the command did\n", o.name,
            WIFSIGNALED(ws) ? "signal" : "status",
            WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
  return stop_signal == SIGINT ? 130 : 255;
usage:
  fprintf(stderr, "usage: myrixen vm run --name NAME [--mem 256M] [--kvm] [--plain] [--image DIR]\n"
                  "         [--net listen:PORT|connect:PORT --ip ADDR/LEN] [--timeout S]"
                  " -- CMD ARGS...\n"
                  "  NAME: letters, digits, - and _ (31 at most); memory up to %u MiB\n",
          CTL_VM_MEM_MAX_MB);
  return 2;
}

int cmd_vm(int argc, char **argv)
{
  if (argc >= 2 && !strcmp(argv[1], "image"))
    return cmd_vm_image(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "run"))
    return cmd_vm_run(argc - 1, argv + 1);
  fprintf(stderr, "usage: myrixen vm image [--out DIR]\n"
                  "       myrixen vm run --name NAME [options] -- CMD ARGS...\n");
  return 2;
}
