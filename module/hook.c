// SPDX-License-Identifier: GPL-2.0
/*
 * The netfilter hooks: read each TCP segment's headers, never change or
 * drop anything, and hand the segment to the flow table.
 *
 * Where to look, so that every segment is seen exactly once per network
 * namespace:
 *
 *	NF_INET_LOCAL_OUT	every segment a local socket (or the stack on
 *				its behalf: SYN/ACKs, RSTs, TIME_WAIT ACKs)
 *				sends, loopback included;
 *	NF_INET_PRE_ROUTING	every segment that arrives, whether it is for
 *				a local socket or is forwarded, except those
 *				arriving on a loopback device: those are local
 *				segments LOCAL_OUT has already seen.
 *
 * A forwarded segment passes PRE_ROUTING only; a segment between two local
 * sockets passes LOCAL_OUT, and then PRE_ROUTING on lo, where it is
 * skipped.  (The other symmetric choice, POST_ROUTING + LOCAL_IN, misses
 * segments that arrive but are neither delivered nor forwarded.)  Local
 * traffic to one of the host's own non-loopback addresses is routed over
 * lo as well, in both families.  Segments between namespaces over a veth
 * pair are sent in one namespace and received in the other, so each of
 * the two sees them once, as each of them is an observer.
 *
 * Priority: just after NAT's destination step (DNAT, REDIRECT, and the
 * undoing of SNAT/masquerade on replies), which comes after conntrack's
 * defragmentation, so reassembled datagrams are seen whole.  There both
 * directions of a NATed connection carry one tuple:
 *
 *	forwarded	PRE_ROUTING sees the original direction after DNAT
 *			and replies after their destination is un-SNATed,
 *			both (client's source, server's real address); the
 *			source rewrites (SNAT, un-DNAT) come later, in
 *			POST_ROUTING;
 *	local		LOCAL_OUT sees a local socket's segments after DNAT
 *			of the output path, PRE_ROUTING the arriving ones
 *			after REDIRECT/DNAT or un-SNAT: again the addresses
 *			the local socket itself uses.
 *
 * Without NAT this is the tuple on the wire.  A segment that raw or
 * mangle rules drop before this point is not seen.
 *
 * Fragments: a fragment that nothing reassembled (no conntrack) is not a
 * whole segment; it is counted and skipped, the first one too.
 *
 * Checksums: a segment that would change a state is taken only if its
 * checksum is right (or already verified, or local: CHECKSUM_PARTIAL), as
 * conntrack does; see tcpstate_flow_step() and tcpstate_flow_add().
 */

#define pr_fmt(fmt) "tcpstate: " fmt

#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/netdevice.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/skbuff.h>
#include <linux/tcp.h>
#include <net/ipv6.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/tcp.h>

#include "event.h"
#include "flow.h"
#include "netns.h"
#include "tcpstate.h"

static bool tcpstate_port_wanted(__be16 a, __be16 b)
{
	struct tcpstate_ports *p = rcu_dereference(tcpstate_ports);

	return !p || test_bit(ntohs(a), p->map) || test_bit(ntohs(b), p->map);
}

/*
 * A SYN's window scale and timestamp options into @s (already set to
 * TCPSTATE_WSCALE_NONE and 0, 0: absent); a malformed option list is
 * counted, and the segment is still stepped, as the kernel takes it.
 */
static void tcpstate_hook_synopts(const struct sk_buff *skb,
				  unsigned int thoff, unsigned int doff,
				  struct tcpstate_seg *s)
{
	u8 buf[TCPSTATE_OPTLEN_MAX];
	unsigned int optlen = doff - sizeof(struct tcphdr);
	const u8 *op;

	if (!optlen)
		return;
	op = skb_header_pointer(skb, thoff + sizeof(struct tcphdr), optlen, buf);
	if (op && !tcpstate_synopts_parse(op, optlen, s))
		tcpstate_stat_inc(TCPSTATE_STAT_BAD_TCP_OPTIONS);
}

/* A segment's checksum, verified only when the flow table asks. */
struct tcpstate_hook_csum {
	struct tcpstate_csum c;
	struct sk_buff *skb;
	unsigned int hook;
	unsigned int thoff;
	u8 pf;
};

static bool tcpstate_hook_csum_ok(const struct tcpstate_csum *c)
{
	const struct tcpstate_hook_csum *hc =
		container_of(c, struct tcpstate_hook_csum, c);

	/* Only asked for when !skb_csum_unnecessary() (tcpstate_hook_tcp). */
	return !nf_checksum(hc->skb, hc->hook, hc->thoff, IPPROTO_TCP, hc->pf);
}

/*
 * The TCP header at @thoff of a datagram whose IP payload, TCP header
 * included, is @tcplen bytes.  Fills @s and @k's ports and canonical
 * order; @k's addresses come in as (source, destination) and are swapped
 * if the destination is the lower end.
 */
static void tcpstate_hook_tcp(struct sk_buff *skb, unsigned int thoff,
			      unsigned int tcplen, unsigned int alen,
			      struct tcpstate_key *k,
			      const struct nf_hook_state *state)
{
	struct tcpstate_hook_csum csum = {
		.c.ok = tcpstate_hook_csum_ok,
		.skb = skb,
		.hook = state->hook,
		.thoff = thoff,
		.pf = state->pf,
	};
	struct tcpstate_seg s;
	struct tcphdr _th;
	const struct tcphdr *th;
	unsigned int doff;

	th = skb_header_pointer(skb, thoff, sizeof(_th), &_th);
	if (!th || tcplen < sizeof(_th)) {
		tcpstate_stat_inc(TCPSTATE_STAT_BAD_TCP_LENGTH);
		return;
	}
	doff = th->doff * 4;
	if (doff < sizeof(_th) || doff > tcplen) {
		tcpstate_stat_inc(TCPSTATE_STAT_BAD_TCP_LENGTH);
		return;
	}
	if (!tcpstate_port_wanted(th->source, th->dest)) {
		tcpstate_stat_inc(TCPSTATE_STAT_SEGMENTS_FILTERED);
		return;
	}

	s.seq = ntohl(th->seq);
	s.ack = ntohl(th->ack_seq);
	s.len = tcplen - doff;
	s.sport = ntohs(th->source);
	s.dport = ntohs(th->dest);
	s.win = ntohs(th->window);
	s.flags = tcp_flag_byte(th);
	s.wscale = TCPSTATE_WSCALE_NONE;
	s.tsval = 0;
	s.tsecr = 0;
	if (s.flags & TCPSTATE_TCP_SYN)
		tcpstate_hook_synopts(skb, thoff, doff, &s);

	s.end = alen == 4 ?
		tcpstate_tuple_end((const u8 *)&k->addr.v4[0],
				   (const u8 *)&k->addr.v4[1], 4, s.sport, s.dport) :
		tcpstate_tuple_end(k->addr.v6[0].s6_addr,
				   k->addr.v6[1].s6_addr, 16, s.sport, s.dport);
	if (!s.end) {
		k->port[0] = th->source;
		k->port[1] = th->dest;
	} else {
		k->port[0] = th->dest;
		k->port[1] = th->source;
		if (alen == 4)
			swap(k->addr.v4[0], k->addr.v4[1]);
		else
			swap(k->addr.v6[0], k->addr.v6[1]);
	}
	/* Local, offloaded or already verified: nothing to check later. */
	tcpstate_flow_segment(k, &s, skb_csum_unnecessary(skb) ? NULL : &csum.c);
}

/* A key's family and namespace; the addresses and ports come after. */
static void tcpstate_hook_key(struct tcpstate_key *k, enum tcpstate_fam fam,
			      const struct nf_hook_state *state)
{
	memset(k, 0, sizeof(*k));
	k->fam = fam;
	k->netns = tcpstate_netns_id(state->net);
	k->inum = state->net->ns.inum;
}

static void tcpstate_hook_ipv4(struct sk_buff *skb,
			       const struct nf_hook_state *state)
{
	unsigned int nh = skb_network_offset(skb), ihl, tot;
	const struct iphdr *iph;
	struct tcpstate_key k;
	struct iphdr _iph;

	iph = skb_header_pointer(skb, nh, sizeof(_iph), &_iph);
	if (!iph || iph->protocol != IPPROTO_TCP)
		return;
	/* Any fragment, the first (offset 0, MF set) included. */
	if (ip_is_fragment(iph)) {
		tcpstate_stat_inc(TCPSTATE_STAT_FRAGMENTS);
		return;
	}
	tcpstate_stat_inc(TCPSTATE_STAT_SEGMENTS_IPV4);
	ihl = iph->ihl * 4;
	tot = ntohs(iph->tot_len);
	/* A GSO packet above 64 KiB (BIG TCP) has no room for its length. */
	if (!tot && skb_is_gso(skb))
		tot = skb->len - nh;
	if (iph->version != 4 || ihl < sizeof(_iph) || tot < ihl ||
	    tot > skb->len - nh) {
		tcpstate_stat_inc(TCPSTATE_STAT_BAD_IP_LENGTH);
		return;
	}

	tcpstate_hook_key(&k, TCPSTATE_FAM_IPV4, state);
	k.addr.v4[0] = iph->saddr;
	k.addr.v4[1] = iph->daddr;
	tcpstate_hook_tcp(skb, nh + ihl, tot - ihl, 4, &k, state);
}

static void tcpstate_hook_ipv6(struct sk_buff *skb,
			       const struct nf_hook_state *state)
{
	unsigned int nh = skb_network_offset(skb), tot;
	const struct ipv6hdr *ip6h;
	struct tcpstate_key k;
	struct ipv6hdr _ip6h;
	__be16 frag_off = 0;
	u8 nexthdr;
	int thoff;

	if (!READ_ONCE(tcpstate_ipv6))
		return;
	ip6h = skb_header_pointer(skb, nh, sizeof(_ip6h), &_ip6h);
	if (!ip6h)
		return;
	nexthdr = ip6h->nexthdr;
	thoff = ipv6_skip_exthdr(skb, nh + sizeof(_ip6h), &nexthdr, &frag_off);
	if (thoff < 0)
		return;
	if (nexthdr == NEXTHDR_FRAGMENT) {
		/* Stopped at a fragment that is not the first: whose? */
		u8 _proto;
		const u8 *proto = skb_header_pointer(skb, thoff, 1, &_proto);

		if (proto && *proto == IPPROTO_TCP)
			tcpstate_stat_inc(TCPSTATE_STAT_FRAGMENTS);
		return;
	}
	if (nexthdr != IPPROTO_TCP)
		return;
	if (frag_off) {
		/* A first fragment: its header is not the whole segment's. */
		tcpstate_stat_inc(TCPSTATE_STAT_FRAGMENTS);
		return;
	}
	tcpstate_stat_inc(TCPSTATE_STAT_SEGMENTS_IPV6);
	tot = ntohs(ip6h->payload_len) + sizeof(_ip6h);
	/* A GSO packet above 64 KiB (BIG TCP) has no room for its length. */
	if (tot == sizeof(_ip6h) && skb_is_gso(skb))
		tot = skb->len - nh;
	if (tot > skb->len - nh || thoff - nh > tot) {
		tcpstate_stat_inc(TCPSTATE_STAT_BAD_IP_LENGTH);
		return;
	}

	tcpstate_hook_key(&k, TCPSTATE_FAM_IPV6, state);
	k.addr.v6[0] = ip6h->saddr;
	k.addr.v6[1] = ip6h->daddr;
	tcpstate_hook_tcp(skb, thoff, tot - (thoff - nh), 16, &k, state);
}

/*
 * One function for the four hook points.  A segment over loopback passes
 * both LOCAL_OUT and PRE_ROUTING: it is taken once, on the way out (at
 * LOCAL_OUT state->in is NULL).
 */
static unsigned int tcpstate_hook(void *priv, struct sk_buff *skb,
				  const struct nf_hook_state *state)
{
	if (state->in && (state->in->flags & IFF_LOOPBACK))
		return NF_ACCEPT;
	if (state->pf == NFPROTO_IPV4)
		tcpstate_hook_ipv4(skb, state);
	else
		tcpstate_hook_ipv6(skb, state);
	return NF_ACCEPT;
}

/*
 * One function at the four points; the entries are spelled out, as
 * netfilter's own users do, rather than made by a macro that would hide
 * which point and priority each is.
 */
static const struct nf_hook_ops tcpstate_hook_ops[] = {
	{
		.hook = tcpstate_hook,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_PRE_ROUTING,
		.priority = NF_IP_PRI_NAT_DST + 1,
	},
	{
		.hook = tcpstate_hook,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = NF_IP_PRI_NAT_DST + 1,
	},
	{
		.hook = tcpstate_hook,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_PRE_ROUTING,
		.priority = NF_IP6_PRI_NAT_DST + 1,
	},
	{
		.hook = tcpstate_hook,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = NF_IP6_PRI_NAT_DST + 1,
	},
};

/* Set while the module goes away: flows then end with reason=unload. */
static bool tcpstate_hook_unloading;

static int __net_init tcpstate_hook_net_init(struct net *net)
{
	return nf_register_net_hooks(net, tcpstate_hook_ops,
				     ARRAY_SIZE(tcpstate_hook_ops));
}

/*
 * A namespace goes (or the module does): stop watching it.  The hooks are
 * unregistered here, in .pre_exit: nf_unregister_net_hooks() does not wait
 * for hooks already running, but the netns core runs a synchronize_rcu()
 * between every .pre_exit and the first .exit, and each hook runs under
 * rcu_read_lock(), so .exit finds no segment of this namespace in flight.
 */
static void __net_exit tcpstate_hook_net_pre_exit(struct net *net)
{
	nf_unregister_net_hooks(net, tcpstate_hook_ops,
				ARRAY_SIZE(tcpstate_hook_ops));
}

/*
 * Then drop its flows, each endpoint not yet CLOSED reported as closing.
 * Nothing of it may stay: its inode number may be reused at once.
 */
static void __net_exit tcpstate_hook_net_exit(struct net *net)
{
	tcpstate_flow_flush(tcpstate_netns_id(net), READ_ONCE(tcpstate_hook_unloading) ?
			    TCPSTATE_REASON_UNLOAD : TCPSTATE_REASON_EVICT);
}

static struct pernet_operations tcpstate_hook_net_ops = {
	.init = tcpstate_hook_net_init,
	.pre_exit = tcpstate_hook_net_pre_exit,
	.exit = tcpstate_hook_net_exit,
};

int tcpstate_hook_init(void)
{
	tcpstate_hook_unloading = false;
	return register_pernet_subsys(&tcpstate_hook_net_ops);
}

void tcpstate_hook_exit(void)
{
	WRITE_ONCE(tcpstate_hook_unloading, true);
	unregister_pernet_subsys(&tcpstate_hook_net_ops);
}
