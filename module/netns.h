/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Network namespaces: the id the module gives each one, and the one rule
 * deciding who may read the module's three /proc files.
 *
 * A namespace's inode number is reused by the kernel as soon as the
 * namespace is gone, so flows, events and readers name a namespace by a
 * module-assigned id instead: allocated cyclically from 1, an id is not
 * given again before 2^32 namespaces have come and gone.  The inode
 * number is kept beside it, for people (the netns column and key).
 */
#ifndef TCPSTATE_NETNS_H
#define TCPSTATE_NETNS_H

#include <linux/types.h>

struct file;
struct net;

/* What a reader may see, decided when it opened the file. */
struct tcpstate_netns_view {
	u32 id;		/* the opener's namespace */
	bool all;	/* ... or every namespace */
};

/* The id of @net (never 0).  Any context, while @net is alive. */
u32 tcpstate_netns_id(const struct net *net);

/* The inode number of the namespace with id @id, 0 once it is gone. */
u32 tcpstate_netns_inum(u32 id);

/*
 * The access rule of /proc/tcpstate, /proc/tcpstate_events and
 * /proc/tcpstate_stats, checked at open with the opener's credentials:
 * CAP_NET_ADMIN in the user namespace that owns the opener's network
 * namespace, else -EACCES.  Every namespace is visible only to an opener
 * in the initial network namespace with CAP_NET_ADMIN in the initial user
 * namespace.  Fills @v on success.
 */
int tcpstate_netns_open(struct file *file, struct tcpstate_netns_view *v);

/* True if a reader with @v may see something of the namespace @id. */
static inline bool tcpstate_netns_visible(const struct tcpstate_netns_view *v,
					  u32 id)
{
	return id && (v->all || id == v->id);
}

/* Give every namespace an id (before the hooks), and undo it (after). */
int tcpstate_netns_init(void);
void tcpstate_netns_exit(void);

#endif /* TCPSTATE_NETNS_H */
