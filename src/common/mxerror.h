/* mxerror.h - text of MX return and status codes (shared by the library and
 * the backend, which names them in its logs). */
#ifndef MYRIXEN_MXERROR_H
#define MYRIXEN_MXERROR_H

const char *mxerror_return_text(int code);
const char *mxerror_status_text(int code);

#endif
