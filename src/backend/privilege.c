/*
 * privilege.c - myrixend as an unprivileged user (--user).  Everything
 * that needs root is done first (ports opened, raw sockets included; the
 * control socket bound and given its owner, group and mode); then the
 * process takes the user's ids and keeps three capabilities:
 *
 * - CAP_SYS_PTRACE: to open a guest's /proc/PID/mem at admission and to
 *   read its grants with process_vm_readv, for guests of any user (a
 *   same-uid rule would serve only the backend's own user's guests);
 * - CAP_SETUID, CAP_SETGID: to write into a guest's memory as that guest
 *   (guestmem.c), with CAP_SYS_PTRACE off for the write, so that the kernel
 *   refuses what the guest itself could not do.
 *
 * Nothing else: no CAP_NET_RAW (an eth port's socket is open already), no
 * CAP_DAC_OVERRIDE, no CAP_SYS_ADMIN.  The ids change with
 * SECBIT_NO_SETUID_FIXUP so that the capabilities survive it, and the
 * engine's threads, started afterwards, inherit them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/log.h"
#include "backend.h"

#define KEPT_CAPS ((1u << CAP_SYS_PTRACE) | (1u << CAP_SETUID) | (1u << CAP_SETGID))

int privilege_socket_access(const char *path, const char *owner, const char *group,
                            unsigned mode, char *err, size_t errlen)
{
  uid_t uid = (uid_t)-1;
  gid_t gid = (gid_t)-1;
  if (owner) {
    struct passwd *pw = getpwnam(owner);
    if (!pw) {
      snprintf(err, errlen, "no user %s", owner);
      return -1;
    }
    uid = pw->pw_uid;
  }
  if (group) {
    struct group *gr = getgrnam(group);
    if (!gr) {
      snprintf(err, errlen, "no group %s", group);
      return -1;
    }
    gid = gr->gr_gid;
  }
  if (((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) < 0) ||
      chmod(path, mode) < 0) {
    snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

int privilege_drop(const char *user, char *err, size_t errlen)
{
  struct passwd *pw = getpwnam(user);
  if (!pw) {
    snprintf(err, errlen, "no user %s", user);
    return -1;
  }
  /* Its ids would not change, and the capabilities would survive every
   * switch to a guest's ids (SECBIT_NO_SETUID_FIXUP) with CAP_SYS_PTRACE
   * on: guestmem.c leaves it on for a backend of uid 0, which root's
   * own id change empties otherwise, so a guest that exec'd a setuid
   * program could be written into. */
  if (pw->pw_uid == 0) {
    snprintf(err, errlen, "--user %s: uid 0 is root; name the unprivileged user to become", user);
    return -1;
  }
  if (prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
                                   SECBIT_NOROOT | SECBIT_NOROOT_LOCKED) < 0 ||
      setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
      setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
    snprintf(err, errlen, "cannot become %s: %s", user, strerror(errno));
    return -1;
  }
  /* What goes cannot come back through an exec either (while we still
   * have CAP_SETPCAP to say so; a kernel's newer capabilities too). */
  for (int cap = 0; cap < 64; cap++)
    if (!(KEPT_CAPS & (1ull << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
        errno != EINVAL) {
      snprintf(err, errlen, "cannot drop capability %d: %s", cap, strerror(errno));
      return -1;
    }
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {{0}};
  data[0].effective = data[0].permitted = KEPT_CAPS;
  if (syscall(SYS_capset, &hdr, data) < 0) {
    snprintf(err, errlen, "capset: %s", strerror(errno));
    return -1;
  }
  log_info("running as %s (uid %d), with CAP_SYS_PTRACE, CAP_SETUID and CAP_SETGID only",
           user, (int)pw->pw_uid);
  return 0;
}
