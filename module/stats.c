// SPDX-License-Identifier: GPL-2.0
/*
 * The counters and /proc/tcpstate_stats: one "name value" line each.
 *
 * The packet path bumps per-cpu counters; a read sums them, walks the
 * table under RCU for the flows per state, and asks the event ring for its
 * own figures.  Names may be added, never renamed.
 *
 * Who may open it: tcpstate_netns_open().  The flow gauges (flows_active*,
 * the endpoints per state) count the reader's namespace, or every one for
 * a reader who sees all namespaces.  The other counters are the host's,
 * all namespaces together: only a reader who sees every namespace gets
 * them, the others get the gauges of their own namespace and the table's
 * settings, nothing that counts other namespaces' traffic.  The first
 * line, the module's version, is for everyone (as /sys/module/tcpstate/
 * version is): the one line whose value is not a number.
 */

#define pr_fmt(fmt) "tcpstate: " fmt

#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "event.h"
#include "flow.h"
#include "netns.h"
#include "tcpstate.h"

DEFINE_PER_CPU(struct tcpstate_stats, tcpstate_stats);

static const char *const tcpstate_stat_names[TCPSTATE_STAT_NR] = {
	[TCPSTATE_STAT_SEGMENTS_IPV4] = "segments_ipv4",
	[TCPSTATE_STAT_SEGMENTS_IPV6] = "segments_ipv6",
	[TCPSTATE_STAT_SEGMENTS_FILTERED] = "segments_filtered",
	[TCPSTATE_STAT_FRAGMENTS] = "fragments_ignored",
	[TCPSTATE_STAT_BAD_IP_LENGTH] = "invalid_ip_length",
	[TCPSTATE_STAT_BAD_TCP_LENGTH] = "invalid_tcp_length",
	[TCPSTATE_STAT_BAD_TCP_OPTIONS] = "invalid_tcp_options",
	[TCPSTATE_STAT_NO_FLOW] = "segments_without_flow",
	[TCPSTATE_STAT_LOOKUP_RESTARTS] = "lookup_restarts",
	[TCPSTATE_STAT_FLOWS_CREATED] = "flows_created",
	[TCPSTATE_STAT_FLOWS_EVICTED] = "flows_evicted",
	[TCPSTATE_STAT_FLOWS_EXPIRED] = "flows_expired",
	[TCPSTATE_STAT_FLOWS_FREED] = "flows_freed",
	[TCPSTATE_STAT_FLOWS_FLUSHED] = "flows_flushed",
	[TCPSTATE_STAT_FLOWS_DROPPED] = "flows_not_placed",
	[TCPSTATE_STAT_ALLOC_FAILURES] = "alloc_failures",
	[TCPSTATE_STAT_HANDSHAKES] = "handshakes",
	[TCPSTATE_STAT_REFUSED] = "refused",
	[TCPSTATE_STAT_RESETS] = "resets",
	[TCPSTATE_STAT_SIMOPENS] = "simultaneous_opens",
	[TCPSTATE_STAT_SIMCLOSES] = "simultaneous_closes",
	[TCPSTATE_STAT_PICKUPS] = "pickups",
	[TCPSTATE_STAT_NEW_GENERATIONS] = "new_generations",
	[TCPSTATE_STAT_FINISHED] = "flows_finished",
	[TCPSTATE_STAT_TIME_WAIT_TIMERS] = "time_wait_timers",
	[TCPSTATE_STAT_RETRANSMISSIONS] = "retransmissions",
	[TCPSTATE_STAT_INVALID_FLAGS] = "invalid_flags",
	[TCPSTATE_STAT_INVALID_ACK] = "invalid_ack",
	[TCPSTATE_STAT_INVALID_RST] = "invalid_rst",
	[TCPSTATE_STAT_INVALID_SEQ] = "invalid_seq",
	[TCPSTATE_STAT_INVALID_UNEXPECTED] = "invalid_unexpected",
	[TCPSTATE_STAT_BAD_CHECKSUM] = "invalid_checksum",
	[TCPSTATE_STAT_KA_PROBES] = "keepalive_probes",
	[TCPSTATE_STAT_KA_ACKS] = "keepalive_answers",
	[TCPSTATE_STAT_KA_RESETS] = "keepalive_peer_resets",
	[TCPSTATE_STAT_KA_TIMEOUTS] = "keepalive_timeouts",
};

static struct proc_dir_entry *tcpstate_stats_pde;

/* Endpoints per state, by side, counted by a walk of the whole table. */
static void tcpstate_stats_walk(const struct tcpstate_netns_view *view,
				unsigned long n[2][TCPSTATE_NR_STATES],
				unsigned long active[TCPSTATE_FAM_NR])
{
	unsigned int i;
	int fam, side;

	rcu_read_lock();
	for (i = 0; i < tcpstate_table.size; i++) {
		struct tcpstate_bucket *b = &tcpstate_table.buckets[i];
		struct tcpstate_flow *f;

		for (fam = 0; fam < TCPSTATE_FAM_NR; fam++) {
			for (f = rcu_dereference(b->head[fam]); f;
			     f = rcu_dereference(f->next)) {
				if (!tcpstate_netns_visible(view,
							    READ_ONCE(f->netns)))
					continue;
				active[fam]++;
				for (side = 0; side < 2; side++) {
					u8 st = READ_ONCE(f->fsm.end[side].state);

					if (st < TCPSTATE_NR_STATES)
						n[side][st]++;
				}
			}
		}
		if ((i & 4095) == 4095) {
			rcu_read_unlock();
			cond_resched();
			rcu_read_lock();
		}
	}
	rcu_read_unlock();
}

static int tcpstate_stats_show(struct seq_file *m, void *v)
{
	const struct tcpstate_netns_view *view = m->private;
	unsigned long (*n)[TCPSTATE_NR_STATES];
	unsigned long active[TCPSTATE_FAM_NR] = {};
	struct tcpstate_event_stats es = {};
	unsigned int i;
	int cpu, side;

	seq_printf(m, "version %s\n", TCPSTATE_VERSION);
	for (i = 0; view->all && i < TCPSTATE_STAT_NR; i++) {
		u64 sum = 0;

		for_each_possible_cpu(cpu)
			sum += per_cpu(tcpstate_stats, cpu).count[i];
		seq_printf(m, "%s %llu\n", tcpstate_stat_names[i], sum);
	}

	n = kcalloc(2, sizeof(*n), GFP_KERNEL);
	if (!n)
		return -ENOMEM;
	tcpstate_stats_walk(view, n, active);
	seq_printf(m, "flows_active %lu\n", view->all ?
		   (unsigned long)atomic_read(&tcpstate_table.count) :
		   active[TCPSTATE_FAM_IPV4] + active[TCPSTATE_FAM_IPV6]);
	seq_printf(m, "flows_active_ipv4 %lu\n", active[TCPSTATE_FAM_IPV4]);
	seq_printf(m, "flows_active_ipv6 %lu\n", active[TCPSTATE_FAM_IPV6]);
	seq_printf(m, "flows_max %u\n", tcpstate_param(&tcpstate_max_flows));
	for (side = 0; side < 2; side++)
		for (i = 0; i < TCPSTATE_NR_STATES; i++)
			seq_printf(m, "%s_%s %lu\n",
				   side == TCPSTATE_CLIENT ? "client" : "server",
				   tcpstate_state_name(i), n[side][i]);
	kfree(n);

	if (view->all) {
		tcpstate_event_stats_read(&es);
		seq_printf(m, "events_emitted %llu\n", es.emitted);
		seq_printf(m, "events_overwritten %llu\n", es.overwritten);
	}
	seq_printf(m, "entry_bytes_ipv4 %u\n",
		   tcpstate_flow_entry_size(TCPSTATE_FAM_IPV4));
	seq_printf(m, "entry_bytes_ipv6 %u\n",
		   tcpstate_flow_entry_size(TCPSTATE_FAM_IPV6));
	seq_printf(m, "table_buckets %u\n", tcpstate_table.size);
	return 0;
}

static int tcpstate_stats_open(struct inode *inode, struct file *file)
{
	struct tcpstate_netns_view *view;
	int err;

	view = kmalloc(sizeof(*view), GFP_KERNEL);
	if (!view)
		return -ENOMEM;
	err = tcpstate_netns_open(file, view);
	if (!err)
		err = single_open(file, tcpstate_stats_show, view);
	if (err)
		kfree(view);
	return err;
}

static int tcpstate_stats_release(struct inode *inode, struct file *file)
{
	void *view = ((struct seq_file *)file->private_data)->private;
	int err = single_release(inode, file);

	kfree(view);
	return err;
}

static ssize_t tcpstate_stats_write(struct file *file, const char __user *buf,
				    size_t len, loff_t *ppos)
{
	return -EINVAL;
}

static const struct proc_ops tcpstate_stats_ops = {
	.proc_open = tcpstate_stats_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = tcpstate_stats_release,
	.proc_write = tcpstate_stats_write,
};

int tcpstate_stats_init(void)
{
	tcpstate_stats_pde = proc_create("tcpstate_stats", 0444, NULL,
					 &tcpstate_stats_ops);
	return tcpstate_stats_pde ? 0 : -ENOMEM;
}

void tcpstate_stats_exit(void)
{
	proc_remove(tcpstate_stats_pde);
}
