/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernels tcpstate builds against (6.1 and 6.12),
 * in one place.  Kbuild force-includes this header before every source
 * file of the module, so it must stand on its own.
 */
#ifndef TCPSTATE_COMPAT_H
#define TCPSTATE_COMPAT_H

#include <linux/version.h>

/*
 * Nothing the module uses differs between 6.1 and 6.12 yet: proc_ops,
 * pernet_operations, nf_register_net_hooks(), ipv6_skip_exthdr() and the
 * five-argument kmem_cache_create() have the same shape in both.  Add a
 * guarded definition here (never an #if in a .c file) when that changes.
 */

#endif /* TCPSTATE_COMPAT_H */
