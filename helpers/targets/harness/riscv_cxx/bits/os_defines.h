/* Bare-metal stand-in for libstdc++'s gnu-linux os_defines.h (which needs glibc's features.h). */
#ifndef _GLIBCXX_OS_DEFINES
#define _GLIBCXX_OS_DEFINES 1
#endif
