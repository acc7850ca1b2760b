/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the module's files share: the parameters (main.c) and the counters
 * (stats.c).  The flow table has its own header, flow.h.
 */
#ifndef TCPSTATE_H
#define TCPSTATE_H

#include <linux/types.h>
#include <linux/percpu.h>
#include <linux/bitops.h>
#include <linux/rcupdate.h>

/* An unsigned parameter and the range its writes are checked against. */
struct tcpstate_uparam {
	unsigned int val;
	unsigned int min;
	unsigned int max;
};

/* The port filter: a bit per port; no filter (NULL) means every port. */
struct tcpstate_ports {
	struct rcu_head rcu;
	DECLARE_BITMAP(map, 65536);
};

extern struct tcpstate_uparam tcpstate_max_flows;
extern struct tcpstate_uparam tcpstate_time_wait_ms;
extern struct tcpstate_uparam tcpstate_linger_ms;
extern struct tcpstate_uparam tcpstate_ring_size;
/* Idle timeouts in seconds, by the state of the more patient endpoint. */
extern struct tcpstate_uparam tcpstate_timeout_syn;
extern struct tcpstate_uparam tcpstate_timeout_established;
extern struct tcpstate_uparam tcpstate_timeout_fin_wait;
extern struct tcpstate_uparam tcpstate_timeout_close_wait;
extern struct tcpstate_uparam tcpstate_timeout_last_ack;
extern struct tcpstate_uparam tcpstate_timeout_close;
extern bool tcpstate_ipv6;
extern bool tcpstate_retransmits;
extern bool tcpstate_keepalives;
extern struct tcpstate_ports __rcu *tcpstate_ports;

static inline unsigned int tcpstate_param(const struct tcpstate_uparam *p)
{
	return READ_ONCE(p->val);
}

/* The packet path's counters, per cpu; /proc/tcpstate_stats sums them. */
enum tcpstate_stat {
	TCPSTATE_STAT_SEGMENTS_IPV4,
	TCPSTATE_STAT_SEGMENTS_IPV6,
	TCPSTATE_STAT_SEGMENTS_FILTERED,
	TCPSTATE_STAT_FRAGMENTS,
	TCPSTATE_STAT_BAD_IP_LENGTH,
	TCPSTATE_STAT_BAD_TCP_LENGTH,
	TCPSTATE_STAT_BAD_TCP_OPTIONS,
	TCPSTATE_STAT_NO_FLOW,
	TCPSTATE_STAT_LOOKUP_RESTARTS,
	TCPSTATE_STAT_FLOWS_CREATED,
	TCPSTATE_STAT_FLOWS_EVICTED,
	TCPSTATE_STAT_FLOWS_EXPIRED,
	TCPSTATE_STAT_FLOWS_FREED,
	TCPSTATE_STAT_FLOWS_FLUSHED,
	TCPSTATE_STAT_FLOWS_DROPPED,
	TCPSTATE_STAT_ALLOC_FAILURES,
	TCPSTATE_STAT_HANDSHAKES,
	TCPSTATE_STAT_REFUSED,
	TCPSTATE_STAT_RESETS,
	TCPSTATE_STAT_SIMOPENS,
	TCPSTATE_STAT_SIMCLOSES,
	TCPSTATE_STAT_PICKUPS,
	TCPSTATE_STAT_NEW_GENERATIONS,
	TCPSTATE_STAT_FINISHED,
	TCPSTATE_STAT_TIME_WAIT_TIMERS,
	TCPSTATE_STAT_RETRANSMISSIONS,
	TCPSTATE_STAT_INVALID_FLAGS,
	TCPSTATE_STAT_INVALID_ACK,
	TCPSTATE_STAT_INVALID_RST,
	TCPSTATE_STAT_INVALID_SEQ,
	TCPSTATE_STAT_INVALID_UNEXPECTED,
	TCPSTATE_STAT_BAD_CHECKSUM,
	TCPSTATE_STAT_KA_PROBES,
	TCPSTATE_STAT_KA_ACKS,
	TCPSTATE_STAT_KA_RESETS,
	TCPSTATE_STAT_KA_TIMEOUTS,
	TCPSTATE_STAT_NR
};

struct tcpstate_stats {
	u64 count[TCPSTATE_STAT_NR];
};

DECLARE_PER_CPU(struct tcpstate_stats, tcpstate_stats);

static inline void tcpstate_stat_inc(enum tcpstate_stat s)
{
	this_cpu_inc(tcpstate_stats.count[s]);
}

/* Create and remove /proc/tcpstate_stats. */
int tcpstate_stats_init(void);
void tcpstate_stats_exit(void);

/* Create and remove /proc/tcpstate. */
int tcpstate_proc_init(void);
void tcpstate_proc_exit(void);

/* Register the netfilter hooks in every network namespace, and undo it. */
int tcpstate_hook_init(void);
void tcpstate_hook_exit(void);

#endif /* TCPSTATE_H */
