// SPDX-License-Identifier: GPL-2.0
/*
 * tcpstate: the RFC 793 state of both endpoints of every TCP connection
 * the host sees, reconstructed from the segments.  This file holds the
 * module's parameters and brings the parts up and down in order.
 *
 * Every parameter is checked when it is set, at insmod and by a write to
 * /sys/module/tcpstate/parameters/: a value that is not a number, is zero
 * or negative, or is absurdly large is refused with -EINVAL and one line
 * in the kernel log that names the parameter and the accepted range.
 */

#define pr_fmt(fmt) "tcpstate: " fmt

#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "event.h"
#include "flow.h"
#include "netns.h"
#include "tcpstate.h"

/* The value as written, without the newline echo adds, for the log. */
static int tcpstate_param_len(const char *val)
{
	return (int)strcspn(val, "\n");
}

static int tcpstate_uparam_set(const char *val, const struct kernel_param *kp)
{
	struct tcpstate_uparam *p = kp->arg;
	unsigned int v;

	if (kstrtouint(val, 0, &v) || v < p->min || v > p->max) {
		pr_err("%s=%.*s refused: expected an integer in %u..%u\n",
		       kp->name, tcpstate_param_len(val), val, p->min, p->max);
		return -EINVAL;
	}
	WRITE_ONCE(p->val, v);
	return 0;
}

static int tcpstate_uparam_get(char *buf, const struct kernel_param *kp)
{
	const struct tcpstate_uparam *p = kp->arg;

	return sysfs_emit(buf, "%u\n", READ_ONCE(p->val));
}

static const struct kernel_param_ops tcpstate_uparam_ops = {
	.set = tcpstate_uparam_set,
	.get = tcpstate_uparam_get,
};

#define TCPSTATE_UPARAM(name, def, lo, hi, perm, desc)			\
	struct tcpstate_uparam tcpstate_##name = {			\
		.val = (def), .min = (lo), .max = (hi),			\
	};								\
	module_param_cb(name, &tcpstate_uparam_ops, &tcpstate_##name, perm); \
	MODULE_PARM_DESC(name, desc " (" #lo ".." #hi ")")

/*
 * max_flows: 0 means "scaled to memory at load" (see tcpstate_init()).
 * The table's bucket count is chosen at load from it; a later write may
 * not ask for more than TCPSTATE_FLOWS_PER_BUCKET flows a bucket on
 * average (eight times the load-time ratio), so chains stay short.
 */
#define TCPSTATE_FLOWS_PER_BUCKET	16

static int tcpstate_max_flows_set(const char *val,
				  const struct kernel_param *kp)
{
	unsigned int v, buckets = READ_ONCE(tcpstate_table.size);
	u64 limit = (u64)buckets * TCPSTATE_FLOWS_PER_BUCKET;

	if (buckets && !kstrtouint(val, 0, &v) && v > limit) {
		pr_err("%s=%.*s refused: the table has %u buckets, at most %llu flows; reload the module for more\n",
		       kp->name, tcpstate_param_len(val), val, buckets, limit);
		return -EINVAL;
	}
	return tcpstate_uparam_set(val, kp);
}

static const struct kernel_param_ops tcpstate_max_flows_ops = {
	.set = tcpstate_max_flows_set,
	.get = tcpstate_uparam_get,
};

struct tcpstate_uparam tcpstate_max_flows = {
	.val = 0, .min = 1, .max = 16777216,
};
module_param_cb(max_flows, &tcpstate_max_flows_ops, &tcpstate_max_flows,
		0644);
MODULE_PARM_DESC(max_flows,
		 "most flows tracked at once (default: RAM / 16 KiB, 1024..262144; at run time at most 16 a table bucket) (1..16777216)");
TCPSTATE_UPARAM(time_wait_ms, 60000, 1, 600000, 0644,
		"2MSL: ms an endpoint stays in TIME_WAIT (default 60000)");
TCPSTATE_UPARAM(linger_ms, 10000, 1, 3600000, 0644,
		"ms a finished flow stays listed (default 10000)");
TCPSTATE_UPARAM(ring_size, 8192, 16, 4194304, 0444,
		"events the transition ring holds (default 8192)");
TCPSTATE_UPARAM(timeout_syn, 120, 1, 2592000, 0644,
		"idle s in SYN_SENT/SYN_RCVD (default 120)");
TCPSTATE_UPARAM(timeout_established, 432000, 1, 2592000, 0644,
		"idle s in ESTABLISHED (default 432000)");
TCPSTATE_UPARAM(timeout_fin_wait, 120, 1, 2592000, 0644,
		"idle s in FIN_WAIT_1/2, CLOSING (default 120)");
TCPSTATE_UPARAM(timeout_close_wait, 60, 1, 2592000, 0644,
		"idle s in CLOSE_WAIT (default 60)");
TCPSTATE_UPARAM(timeout_last_ack, 30, 1, 2592000, 0644,
		"idle s in LAST_ACK (default 30)");
TCPSTATE_UPARAM(timeout_close, 10, 1, 2592000, 0644,
		"idle s of a flow not yet started (default 10)");

bool tcpstate_ipv6 = true;

static int tcpstate_bparam_set(const char *val, const struct kernel_param *kp)
{
	int err = param_set_bool(val, kp);

	if (err)
		pr_err("%s=%.*s refused: expected 0, 1, y, n, Y or N\n",
		       kp->name, tcpstate_param_len(val ?: ""), val ?: "");
	return err;
}

static const struct kernel_param_ops tcpstate_bparam_ops = {
	.flags = KERNEL_PARAM_OPS_FL_NOARG,
	.set = tcpstate_bparam_set,
	.get = param_get_bool,
};

module_param_cb(ipv6, &tcpstate_bparam_ops, &tcpstate_ipv6, 0644);
MODULE_PARM_DESC(ipv6, "watch IPv6 as well as IPv4 (default 1)");

bool tcpstate_retransmits;
module_param_cb(retransmits, &tcpstate_bparam_ops, &tcpstate_retransmits,
		0644);
MODULE_PARM_DESC(retransmits,
		 "an event (reason=retransmit) for each SYN, SYN/ACK, FIN or final ACK sent again (default 0)");

bool tcpstate_keepalives;
module_param_cb(keepalives, &tcpstate_bparam_ops, &tcpstate_keepalives,
		0644);
MODULE_PARM_DESC(keepalives,
		 "an event (reason=keepalive, keepalive_ack) for each keep-alive probe and answer (default 0)");

/*
 * The port filter: "" (every port, the default) or a comma-separated list
 * of up to TCPSTATE_PORTS_MAX ports from 1 to 65535; a segment is watched
 * if either of its ports is listed.  The hooks read the bitmap under RCU.
 */
#define TCPSTATE_PORTS_MAX	64
#define TCPSTATE_PORTS_STRLEN	(TCPSTATE_PORTS_MAX * 6)

struct tcpstate_ports __rcu *tcpstate_ports;
static char tcpstate_ports_str[TCPSTATE_PORTS_STRLEN + 1];

static int tcpstate_ports_parse(const char *val, struct tcpstate_ports *p,
				char *str)
{
	char buf[TCPSTATE_PORTS_STRLEN + 2], *s = buf, *tok;
	unsigned int n = 0;
	int len = tcpstate_param_len(val);
	u16 port;

	if (len > TCPSTATE_PORTS_STRLEN)
		return -EINVAL;
	memcpy(buf, val, len);
	buf[len] = '\0';
	str[0] = '\0';
	while ((tok = strsep(&s, ",")) != NULL) {
		if (!*tok && !s && !n)
			break;		/* "" */
		if (kstrtou16(tok, 10, &port) || !port ||
		    ++n > TCPSTATE_PORTS_MAX)
			return -EINVAL;
		set_bit(port, p->map);
		if (n > 1)
			strcat(str, ",");
		strcat(str, tok);
	}
	return n;
}

static int tcpstate_ports_set(const char *val, const struct kernel_param *kp)
{
	char str[TCPSTATE_PORTS_STRLEN + 1];
	struct tcpstate_ports *p, *old;
	int n;

	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	n = tcpstate_ports_parse(val, p, str);
	if (n < 0) {
		kfree(p);
		pr_err("%s=%.*s refused: expected \"\" or up to %d comma-separated ports in 1..65535\n",
		       kp->name, tcpstate_param_len(val), val,
		       TCPSTATE_PORTS_MAX);
		return -EINVAL;
	}
	if (!n) {
		kfree(p);
		p = NULL;
	}
	/* Sets are serialised by the kernel's parameter lock. */
	old = rcu_replace_pointer(tcpstate_ports, p, true);
	strscpy(tcpstate_ports_str, str, sizeof(tcpstate_ports_str));
	if (old)
		kfree_rcu(old, rcu);
	return 0;
}

static int tcpstate_ports_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", tcpstate_ports_str);
}

static const struct kernel_param_ops tcpstate_ports_ops = {
	.set = tcpstate_ports_set,
	.get = tcpstate_ports_get,
};

module_param_cb(ports, &tcpstate_ports_ops, NULL, 0644);
MODULE_PARM_DESC(ports, "watch only these ports: comma-separated, \"\" = all");

/* Like nf_conntrack_max: 1/16384 of memory in flows, 1024 to 262144. */
static unsigned int tcpstate_default_max_flows(void)
{
	u64 bytes = (u64)totalram_pages() << PAGE_SHIFT;

	return clamp_t(u64, bytes / 16384, 1024, 262144);
}

static int __init tcpstate_init(void)
{
	int err;

	if (!tcpstate_max_flows.val)
		tcpstate_max_flows.val = tcpstate_default_max_flows();

	/*
	 * The ring before the table (flows report into it until the very
	 * end), the table before the files that read it, the hooks last.
	 */
	err = tcpstate_netns_init();
	if (err)
		goto err_netns;
	err = tcpstate_event_init(tcpstate_param(&tcpstate_ring_size));
	if (err)
		goto err_event;
	err = tcpstate_flow_init();
	if (err)
		goto err_flow;
	err = tcpstate_stats_init();
	if (err)
		goto err_stats;
	err = tcpstate_proc_init();
	if (err)
		goto err_proc;
	err = tcpstate_hook_init();
	if (err)
		goto err_hook;
	pr_info("loaded: version %s, max_flows=%u buckets=%u time_wait_ms=%u\n",
		TCPSTATE_VERSION, tcpstate_param(&tcpstate_max_flows),
		tcpstate_table.size, tcpstate_param(&tcpstate_time_wait_ms));
	return 0;

err_hook:
	tcpstate_proc_exit();
err_proc:
	tcpstate_stats_exit();
err_stats:
	tcpstate_flow_exit();
err_flow:
	tcpstate_event_exit();
err_event:
	tcpstate_netns_exit();
err_netns:
	pr_err("cannot load: %d\n", err);
	return err;
}

static void __exit tcpstate_exit(void)
{
	/* Hooks first: each namespace's flows end with reason=unload. */
	tcpstate_hook_exit();
	/* proc_remove() waits for readers still inside the files. */
	tcpstate_proc_exit();
	tcpstate_stats_exit();
	tcpstate_flow_exit();
	/* Readers blocked on the event stream drain and get end-of-file. */
	tcpstate_event_exit();
	/* After the hooks' pernet exits, which name namespaces by id. */
	tcpstate_netns_exit();
	kfree(rcu_dereference_protected(tcpstate_ports, true));
}

module_init(tcpstate_init);
module_exit(tcpstate_exit);

MODULE_LICENSE("GPL");
MODULE_VERSION(TCPSTATE_VERSION);
MODULE_DESCRIPTION("Both endpoints' RFC 793 TCP states, from the segments seen");
