/* Bare metal: no threads (libstdc++ single-threaded model). */
#include <bits/gthr-single.h>
