// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/tcpstate: the flow table, a header line and one line per flow.
 *
 * A seq_file over an RCU walk of the buckets.  Each line is formatted
 * from a copy of the entry taken under its bucket's lock for a moment, so
 * that both endpoints' states agree; no lock is held while seq_file
 * copies to the user.  The iterator remembers the bucket and the rank in
 * it of the next line, so a long table is read in linear time.  Lines of
 * flows added or removed during a read may be missed, never invented.
 *
 * Who may open it and whose flows it shows: tcpstate_netns_open().  The
 * netns column is the namespace's inode number, for people; the filter
 * uses the module's namespace id, which is never reused.
 */

#define pr_fmt(fmt) "tcpstate: " fmt

#include <linux/jiffies.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/socket.h>

#include "flow.h"
#include "netns.h"
#include "tcpstate.h"

/*
 * The column layout is TCPSTATE_TABLE_LINE (fsm.h), shared with
 * tcpstate-pcap: header and rows alike, every column a string.
 */

struct tcpstate_proc_iter {
	struct tcpstate_netns_view view;	/* the namespaces it sees */
	/* The flow at line pos is the skip-th visible one of bucket. */
	loff_t pos;
	unsigned int bucket;
	unsigned int skip;
	/* Where that flow was found, between start() and stop(). */
	enum tcpstate_fam fam;
};

static struct proc_dir_entry *tcpstate_proc_pde;

static bool tcpstate_proc_visible(const struct tcpstate_proc_iter *it,
				  const struct tcpstate_flow *f)
{
	return tcpstate_netns_visible(&it->view, READ_ONCE(f->netns));
}

/* The flow (bucket, skip) names, or the next one after it.  Under RCU. */
static struct tcpstate_flow *tcpstate_proc_seek(struct tcpstate_proc_iter *it)
{
	for (; it->bucket < tcpstate_table.size; it->bucket++, it->skip = 0) {
		struct tcpstate_bucket *b = &tcpstate_table.buckets[it->bucket];
		unsigned int rank = 0;
		struct tcpstate_flow *f;
		int fam;

		for (fam = 0; fam < TCPSTATE_FAM_NR; fam++) {
			for (f = rcu_dereference(b->head[fam]); f;
			     f = rcu_dereference(f->next)) {
				if (!tcpstate_proc_visible(it, f))
					continue;
				if (rank++ < it->skip)
					continue;
				it->fam = fam;
				return f;
			}
		}
	}
	return NULL;
}

static void *tcpstate_proc_start(struct seq_file *m, loff_t *pos)
	__acquires(RCU)
{
	struct tcpstate_proc_iter *it = m->private;

	rcu_read_lock();
	if (!*pos)
		return SEQ_START_TOKEN;
	if (*pos != it->pos) {
		/* Not where the last read stopped: count from the top. */
		it->pos = 1;
		it->bucket = 0;
		it->skip = 0;
		while (it->pos < *pos) {
			if (!tcpstate_proc_seek(it))
				return NULL;
			it->skip++;
			it->pos++;
		}
	}
	return tcpstate_proc_seek(it);
}

static void *tcpstate_proc_next(struct seq_file *m, void *v, loff_t *pos)
{
	struct tcpstate_proc_iter *it = m->private;

	++*pos;
	if (v == SEQ_START_TOKEN) {
		it->bucket = 0;
		it->skip = 0;
	} else {
		it->skip++;
	}
	it->pos = *pos;
	return tcpstate_proc_seek(it);
}

static void tcpstate_proc_stop(struct seq_file *m, void *v)
	__releases(RCU)
{
	rcu_read_unlock();
}

/* As the event lines write it (tcpstate_endpoint_format()). */
static void tcpstate_proc_endpoint(char *buf, const struct tcpstate_key *k,
				   unsigned int end)
{
	if (k->fam == TCPSTATE_FAM_IPV4)
		tcpstate_endpoint_format((const u8 *)&k->addr.v4[end], 4,
					 ntohs(k->port[end]), buf);
	else
		tcpstate_endpoint_format(k->addr.v6[end].s6_addr, 16,
					 ntohs(k->port[end]), buf);
}

static int tcpstate_proc_show(struct seq_file *m, void *v)
{
	struct tcpstate_proc_iter *it = m->private;
	char client[TCPSTATE_ENDPOINT_LEN], server[TCPSTATE_ENDPOINT_LEN];
	char history[TCPSTATE_HISTORY_LEN], flags[TCPSTATE_FLOWFLAGS_LEN];
	char netns[12], age[12], rtt[12], keepalives[TCPSTATE_KEEPALIVES_LEN];
	struct tcpstate_flow_view fv;
	unsigned int c;

	if (v == SEQ_START_TOKEN) {
		seq_printf(m, TCPSTATE_TABLE_LINE, "netns", "family", "client",
			   "server", "client_state", "server_state", "age_ms",
			   "rtt_us", "history", "flags", "keepalives");
		return 0;
	}
	if (!tcpstate_flow_view(&tcpstate_table.buckets[it->bucket], v,
				it->fam, &fv))
		return SEQ_SKIP;

	c = tcpstate_fsm_client_end(&fv.fsm);
	tcpstate_proc_endpoint(client, &fv.key, c);
	tcpstate_proc_endpoint(server, &fv.key, !c);
	if (fv.fsm.rtt_syn_us || fv.fsm.rtt_ack_us)
		snprintf(rtt, sizeof(rtt), "%u",
			 fv.fsm.rtt_syn_us + fv.fsm.rtt_ack_us);
	else
		strscpy(rtt, "-", sizeof(rtt));
	tcpstate_fsm_history_format(&fv.fsm, history);
	if (!history[0])
		strscpy(history, "-", sizeof(history));
	tcpstate_fsm_flags_format(&fv.fsm, flags);
	tcpstate_fsm_keepalives_format(&fv.fsm, keepalives);
	snprintf(netns, sizeof(netns), "%u", tcpstate_netns_inum(fv.key.netns));
	snprintf(age, sizeof(age), "%u",
		 jiffies_to_msecs((u32)jiffies - fv.created));

	seq_printf(m, TCPSTATE_TABLE_LINE, netns,
		   fv.key.fam == TCPSTATE_FAM_IPV4 ? "ipv4" : "ipv6",
		   client, server,
		   tcpstate_state_name(fv.fsm.end[TCPSTATE_CLIENT].state),
		   tcpstate_state_name(fv.fsm.end[TCPSTATE_SERVER].state),
		   age, rtt, history, flags, keepalives);
	return 0;
}

static const struct seq_operations tcpstate_proc_seq_ops = {
	.start = tcpstate_proc_start,
	.next = tcpstate_proc_next,
	.stop = tcpstate_proc_stop,
	.show = tcpstate_proc_show,
};

static int tcpstate_proc_open(struct inode *inode, struct file *file)
{
	struct tcpstate_netns_view view;
	struct tcpstate_proc_iter *it;
	int err;

	err = tcpstate_netns_open(file, &view);
	if (err)
		return err;
	it = __seq_open_private(file, &tcpstate_proc_seq_ops, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->view = view;
	it->pos = 1;
	return 0;
}

static ssize_t tcpstate_proc_write(struct file *file, const char __user *buf,
				   size_t len, loff_t *ppos)
{
	return -EINVAL;
}

static const struct proc_ops tcpstate_proc_ops = {
	.proc_open = tcpstate_proc_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = seq_release_private,
	.proc_write = tcpstate_proc_write,
};

int tcpstate_proc_init(void)
{
	tcpstate_proc_pde = proc_create("tcpstate", 0444, NULL,
					&tcpstate_proc_ops);
	return tcpstate_proc_pde ? 0 : -ENOMEM;
}

void tcpstate_proc_exit(void)
{
	proc_remove(tcpstate_proc_pde);
}
