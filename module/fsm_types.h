/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The only difference between the state machine built into the module and
 * the one built into the userspace tools, tests and fuzzers: where the
 * fixed-width integer types, static_assert and noinline come from.
 */
#ifndef TCPSTATE_FSM_TYPES_H
#define TCPSTATE_FSM_TYPES_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/build_bug.h>
#include <linux/kernel.h>	/* ARRAY_SIZE */

#define TCPSTATE_NOINLINE	noinline
#else
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The kernel's noinline, under a name of its own: a macro named noinline
 * would break the noinline attribute wherever a program that includes
 * fsm.h spells it out.  glibc's <sys/cdefs.h> spells it for us.
 */
#ifdef __attribute_noinline__
#define TCPSTATE_NOINLINE	__attribute_noinline__
#else
#define TCPSTATE_NOINLINE
#endif
#endif

#endif /* TCPSTATE_FSM_TYPES_H */
