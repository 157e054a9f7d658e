/*
 * prov.c - the entry point libfabric looks for in libmyrixen-fi.so, and
 * the one MX initialisation of the process.
 */
#include <pthread.h>

#include "fi.h"

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static int mx_state;            /* 0: not tried, 1: up, -1: no backend */
_Atomic int fxn_open_endpoints;

/* Reach the backend once.  Errors must come back as codes, not abort the
 * program that merely asked libfabric what it has (mx_init reports through
 * the global handler), so the handler is set first. */
int fxn_mx_ready(void)
{
  pthread_mutex_lock(&init_lock);
  if (mx_state == 0) {
    mx_set_error_handler(MX_ERRORS_RETURN);
    mx_return_t rc = mx_init();
    mx_state = rc == MX_SUCCESS || rc == MX_ALREADY_INITIALIZED ? 1 : -1;
    if (mx_state < 0)
      FI_INFO(&fxn_prov, FI_LOG_CORE, "no MyriXen backend: %s\n", mx_strerror(rc));
  }
  int up = mx_state > 0;
  pthread_mutex_unlock(&init_lock);
  return up;
}

/* From libfabric's destructor, at exit too.  With endpoints still open
 * (a program that exits without closing them, threads perhaps asleep in
 * them) we leave the library as it is: the backend sees this guest go. */
static void fxn_cleanup(void)
{
  pthread_mutex_lock(&init_lock);
  if (mx_state > 0 && fxn_open_endpoints == 0)
    mx_finalize();
  mx_state = 0;
  pthread_mutex_unlock(&init_lock);
}

struct fi_provider fxn_prov = {
  .name = FXN_NAME,
  .version = FXN_VERSION,
  .fi_version = FXN_API,
  .getinfo = fxn_getinfo,
  .fabric = fxn_fabric_open,
  .cleanup = fxn_cleanup,
};

FI_EXT_INI
{
  return &fxn_prov;
}

/* The slots of ops tables that this provider does not offer. */
int fxn_no_bind(struct fid *fid, struct fid *bfid, uint64_t flags)
{
  (void)fid, (void)bfid, (void)flags;
  return -FI_ENOSYS;
}

int fxn_no_control(struct fid *fid, int command, void *arg)
{
  (void)fid, (void)command, (void)arg;
  return -FI_ENOSYS;
}

int fxn_no_ops_open(struct fid *fid, const char *name, uint64_t flags, void **ops, void *context)
{
  (void)fid, (void)name, (void)flags, (void)ops, (void)context;
  return -FI_ENOSYS;
}

int fxn_no_tostr(const struct fid *fid, char *buf, size_t len)
{
  (void)fid, (void)buf, (void)len;
  return -FI_ENOSYS;
}

int fxn_no_ops_set(struct fid *fid, const char *name, uint64_t flags, void *ops, void *context)
{
  (void)fid, (void)name, (void)flags, (void)ops, (void)context;
  return -FI_ENOSYS;
}
