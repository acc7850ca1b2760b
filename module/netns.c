// SPDX-License-Identifier: GPL-2.0
/*
 * Network namespace ids and the access rule of the /proc files.
 *
 * Each namespace gets an id at its creation (or at load, for those that
 * exist then) from pernet operations registered before the hooks', so
 * the id exists before the first segment and, as exits run in reverse
 * order, still names the namespace while its flows are flushed.  The id
 * lives in the namespace's net_generic slot, read on every segment; an
 * xarray maps ids back to inode numbers for the readers.
 */

#define pr_fmt(fmt) "tcpstate: " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/nsproxy.h>
#include <linux/sched.h>
#include <linux/xarray.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "netns.h"

struct tcpstate_netns {
	u32 id;
};

static unsigned int tcpstate_netns_gen __read_mostly;
/* id -> inode number (an xarray value entry); ids are never 0. */
static DEFINE_XARRAY_ALLOC1(tcpstate_netns_ids);
static u32 tcpstate_netns_next;

u32 tcpstate_netns_id(const struct net *net)
{
	const struct tcpstate_netns *tn = net_generic(net, tcpstate_netns_gen);

	return READ_ONCE(tn->id);
}

u32 tcpstate_netns_inum(u32 id)
{
	void *entry = xa_load(&tcpstate_netns_ids, id);

	return entry ? (u32)xa_to_value(entry) : 0;
}

int tcpstate_netns_open(struct file *file, struct tcpstate_netns_view *v)
{
	struct net *net = current->nsproxy->net_ns;

	/* file->f_cred: the opener's credentials, whoever reads later. */
	if (!file_ns_capable(file, net->user_ns, CAP_NET_ADMIN))
		return -EACCES;
	v->id = tcpstate_netns_id(net);
	v->all = net_eq(net, &init_net) &&
		 file_ns_capable(file, &init_user_ns, CAP_NET_ADMIN);
	return 0;
}

static int __net_init tcpstate_netns_net_init(struct net *net)
{
	struct tcpstate_netns *tn = net_generic(net, tcpstate_netns_gen);
	int err;

	/* The xarray's lock guards the cursor tcpstate_netns_next. */
	err = xa_alloc_cyclic(&tcpstate_netns_ids, &tn->id,
			      xa_mk_value(net->ns.inum), xa_limit_32b,
			      &tcpstate_netns_next, GFP_KERNEL);
	return err < 0 ? err : 0;
}

static void __net_exit tcpstate_netns_net_exit(struct net *net)
{
	struct tcpstate_netns *tn = net_generic(net, tcpstate_netns_gen);

	xa_erase(&tcpstate_netns_ids, tn->id);
}

static struct pernet_operations tcpstate_netns_ops = {
	.init = tcpstate_netns_net_init,
	.exit = tcpstate_netns_net_exit,
	.id = &tcpstate_netns_gen,
	.size = sizeof(struct tcpstate_netns),
};

int tcpstate_netns_init(void)
{
	return register_pernet_subsys(&tcpstate_netns_ops);
}

void tcpstate_netns_exit(void)
{
	unregister_pernet_subsys(&tcpstate_netns_ops);
	WARN_ON_ONCE(!xa_empty(&tcpstate_netns_ids));
	xa_destroy(&tcpstate_netns_ids);
}
