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
 * Priority: just after conntrack's defragmentation, so that reassembled
 * datagrams are seen whole when it is loaded; and before raw, mangle and
 * NAT, so the tuple is the one on the wire.
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
#include "tcpstate.h"

/* Longest TCP options area. */
#define TCPSTATE_OPTLEN_MAX	40
/* RFC 7323: a shift count above 14 is taken as 14. */
#define TCPSTATE_WSCALE_MAX	14

static bool tcpstate_port_wanted(__be16 a, __be16 b)
{
	struct tcpstate_ports *p = rcu_dereference(tcpstate_ports);

	return !p || test_bit(ntohs(a), p->map) || test_bit(ntohs(b), p->map);
}

static u32 tcpstate_be32(const u8 *p)
{
	return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

/*
 * A SYN's window scale and timestamp options into @s (already set to
 * TCPSTATE_WSCALE_NONE and 0, 0: absent).
 */
static void tcpstate_hook_synopts(const struct sk_buff *skb,
				  unsigned int thoff, unsigned int doff,
				  struct tcpstate_seg *s)
{
	u8 buf[TCPSTATE_OPTLEN_MAX];
	unsigned int optlen = doff - sizeof(struct tcphdr), i = 0;
	const u8 *op;

	if (!optlen)
		return;
	op = skb_header_pointer(skb, thoff + sizeof(struct tcphdr), optlen, buf);
	if (!op)
		return;
	/* Each pass moves i forward by at least one: at most 40 passes. */
	while (i < optlen) {
		u8 kind = op[i], len;

		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= optlen)
			break;
		len = op[i + 1];
		if (len < 2 || len > optlen - i)
			break;
		if (kind == TCPOPT_WINDOW && len == TCPOLEN_WINDOW)
			s->wscale = min_t(u8, op[i + 2], TCPSTATE_WSCALE_MAX);
		if (kind == TCPOPT_TIMESTAMP && len == TCPOLEN_TIMESTAMP) {
			s->tsval = tcpstate_be32(op + i + 2);
			s->tsecr = tcpstate_be32(op + i + 6);
		}
		i += len;
	}
}

/*
 * The TCP header at @thoff of a datagram whose IP payload, TCP header
 * included, is @tcplen bytes.  Fills @s and @k's ports and canonical
 * order; @k's addresses come in as (source, destination) and are swapped
 * if the destination is the lower end.
 */
static void tcpstate_hook_tcp(const struct sk_buff *skb, unsigned int thoff,
			      unsigned int tcplen, unsigned int alen,
			      struct tcpstate_key *k)
{
	struct tcpstate_seg s;
	struct tcphdr _th;
	const struct tcphdr *th;
	unsigned int doff;
	int cmp;

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

	/*
	 * A socket connected to itself (same address and port at both ends)
	 * has one tuple end only: its segments all count as end 0.
	 */
	cmp = memcmp(&k->addr.v4[0], alen == 4 ? (void *)&k->addr.v4[1] :
			(void *)&k->addr.v6[1], alen);
	if (!cmp)
		cmp = s.sport < s.dport ? -1 : s.sport > s.dport;
	if (cmp <= 0) {
		s.end = 0;
		k->port[0] = th->source;
		k->port[1] = th->dest;
	} else {
		s.end = 1;
		k->port[0] = th->dest;
		k->port[1] = th->source;
		if (alen == 4)
			swap(k->addr.v4[0], k->addr.v4[1]);
		else
			swap(k->addr.v6[0], k->addr.v6[1]);
	}
	tcpstate_flow_segment(k, &s);
}

static void tcpstate_hook_ipv4(const struct sk_buff *skb, const struct net *net)
{
	unsigned int nh = skb_network_offset(skb), ihl, tot;
	const struct iphdr *iph;
	struct tcpstate_key k;
	struct iphdr _iph;

	iph = skb_header_pointer(skb, nh, sizeof(_iph), &_iph);
	if (!iph || iph->protocol != IPPROTO_TCP)
		return;
	if (iph->frag_off & htons(IP_OFFSET)) {
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

	memset(&k, 0, sizeof(k));
	k.fam = TCPSTATE_FAM_IPV4;
	k.netns = net->ns.inum;
	k.addr.v4[0] = iph->saddr;
	k.addr.v4[1] = iph->daddr;
	tcpstate_hook_tcp(skb, nh + ihl, tot - ihl, 4, &k);
}

static void tcpstate_hook_ipv6(const struct sk_buff *skb, const struct net *net)
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
	tcpstate_stat_inc(TCPSTATE_STAT_SEGMENTS_IPV6);
	tot = ntohs(ip6h->payload_len) + sizeof(_ip6h);
	/* A GSO packet above 64 KiB (BIG TCP) has no room for its length. */
	if (tot == sizeof(_ip6h) && skb_is_gso(skb))
		tot = skb->len - nh;
	if (tot > skb->len - nh || thoff - nh > tot) {
		tcpstate_stat_inc(TCPSTATE_STAT_BAD_IP_LENGTH);
		return;
	}

	memset(&k, 0, sizeof(k));
	k.fam = TCPSTATE_FAM_IPV6;
	k.netns = net->ns.inum;
	k.addr.v6[0] = ip6h->saddr;
	k.addr.v6[1] = ip6h->daddr;
	tcpstate_hook_tcp(skb, thoff, tot - (thoff - nh), 16, &k);
}

static bool tcpstate_hook_from_lo(const struct nf_hook_state *state)
{
	return state->in && (state->in->flags & IFF_LOOPBACK);
}

static unsigned int tcpstate_hook_in4(void *priv, struct sk_buff *skb,
				      const struct nf_hook_state *state)
{
	if (!tcpstate_hook_from_lo(state))
		tcpstate_hook_ipv4(skb, state->net);
	return NF_ACCEPT;
}

static unsigned int tcpstate_hook_out4(void *priv, struct sk_buff *skb,
				       const struct nf_hook_state *state)
{
	tcpstate_hook_ipv4(skb, state->net);
	return NF_ACCEPT;
}

static unsigned int tcpstate_hook_in6(void *priv, struct sk_buff *skb,
				      const struct nf_hook_state *state)
{
	if (!tcpstate_hook_from_lo(state))
		tcpstate_hook_ipv6(skb, state->net);
	return NF_ACCEPT;
}

static unsigned int tcpstate_hook_out6(void *priv, struct sk_buff *skb,
				       const struct nf_hook_state *state)
{
	tcpstate_hook_ipv6(skb, state->net);
	return NF_ACCEPT;
}

static const struct nf_hook_ops tcpstate_hook_ops[] = {
	{
		.hook = tcpstate_hook_in4,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_PRE_ROUTING,
		.priority = NF_IP_PRI_CONNTRACK_DEFRAG + 1,
	},
	{
		.hook = tcpstate_hook_out4,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = NF_IP_PRI_CONNTRACK_DEFRAG + 1,
	},
	{
		.hook = tcpstate_hook_in6,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_PRE_ROUTING,
		.priority = NF_IP6_PRI_CONNTRACK_DEFRAG + 1,
	},
	{
		.hook = tcpstate_hook_out6,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = NF_IP6_PRI_CONNTRACK_DEFRAG + 1,
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
 * A namespace goes (or the module does): stop watching it, then drop its
 * flows, each endpoint not yet CLOSED reported as closing.  Its inode
 * number may be reused by a later namespace, so nothing of it may stay.
 */
static void __net_exit tcpstate_hook_net_exit(struct net *net)
{
	nf_unregister_net_hooks(net, tcpstate_hook_ops,
				ARRAY_SIZE(tcpstate_hook_ops));
	tcpstate_flow_flush(net->ns.inum, tcpstate_hook_unloading ?
			    TCPSTATE_REASON_UNLOAD : TCPSTATE_REASON_EVICT);
}

static struct pernet_operations tcpstate_hook_net_ops = {
	.init = tcpstate_hook_net_init,
	.exit = tcpstate_hook_net_exit,
};

int tcpstate_hook_init(void)
{
	tcpstate_hook_unloading = false;
	return register_pernet_subsys(&tcpstate_hook_net_ops);
}

void tcpstate_hook_exit(void)
{
	tcpstate_hook_unloading = true;
	unregister_pernet_subsys(&tcpstate_hook_net_ops);
}
