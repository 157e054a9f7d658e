/* log.h - one-line logs to stderr with the program's name, a level and the
 * component that speaks: the directory of the source file (engine, port,
 * backend, lib, common), e.g. "myrixend[..] warn engine: ...". */
#ifndef MYRIXEN_LOG_H
#define MYRIXEN_LOG_H

enum log_level { LOG_ERR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Set the name printed before each line and the most verbose level shown
 * (MYRIXEN_LOG=debug|info|warn|err overrides the default given here). */
void log_setup(const char *name, enum log_level level);
void log_msg(enum log_level level, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_err(...) log_msg(LOG_ERR, __FILE__, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __FILE__, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __FILE__, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __FILE__, __VA_ARGS__)

#endif
