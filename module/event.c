// SPDX-License-Identifier: GPL-2.0
/*
 * The transition stream behind /proc/tcpstate_events.
 *
 * Writers share nothing but one counter.  tcpstate_event_claim() takes the
 * next id from an atomic64 and owns slot (id & mask) of a power-of-two ring
 * until tcpstate_event_publish(); the record is written in place.
 * Each slot carries a sequence word, (id << 1) | busy, which works like a
 * seqcount whose values are the ids themselves:
 *
 *	writer				reader of id N
 *	claim:   cmpxchg word ->	s = load-acquire(word)
 *	         (id << 1) | 1		s >> 1 >  N: overwritten (lost)
 *	fill the record			s >> 1 <  N or busy: not written yet
 *	publish: store-release		copy the record
 *	         word = id << 1		reload word: changed -> overwritten
 *
 * A writer that finds its slot already claimed by a newer id (the ring
 * wrapped while it was on its way) drops its record: it is lost to every
 * reader, as it would have been a moment later anyway.  A writer that finds
 * the slot busy with an older id waits for it; that writer runs on another
 * CPU with interrupts off from its claim to its publication, filling in a
 * record from what it holds at hand, so the wait is a few dozen
 * instructions and cannot deadlock.  Emitting from NMI context
 * is not supported.
 *
 * Every open file is a reader with its own cursor (the next id it wants),
 * like /dev/kmsg.  Loss is found by the reader, never by the writer: a slot
 * holding a newer id than the cursor means the cursor's event is gone, and
 * the reader jumps to the oldest event still in the ring and says how many
 * it skipped in a "lost=N" line.
 */

#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/irq_work.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/poll.h>
#include <linux/proc_fs.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <net/net_namespace.h>

#include "event.h"
#include "fsm.h"
#include "netns.h"

/* Larger rings are refused; the module parameter validates first. */
#define TCPSTATE_EVENT_RING_MAX	(1U << 24)

/*
 * How long rmmod waits for the open readers to reach end of file.  A read
 * that starts after /proc/tcpstate_events is gone gets -EIO from procfs,
 * not 0, so a reader that is draining the last events (the flows' unload
 * transitions) when rmmod comes is given this long to come back for its
 * end of file.  Readers that do not read at all only delay rmmod by it.
 */
#define TCPSTATE_EVENT_EOF_GRACE	(2 * HZ)

struct tcpstate_event_slot {
	atomic64_t seq;			/* (id << 1) | busy */
	struct tcpstate_event ev;
};

/* What slot_read() found at an id. */
enum tcpstate_event_found {
	TCPSTATE_EVENT_NONE,		/* not written yet */
	TCPSTATE_EVENT_READY,		/* here, and copied out intact */
	TCPSTATE_EVENT_LOST,		/* overwritten by a newer event */
};

struct tcpstate_event_reader {
	struct list_head node;		/* on readers, under readers_lock */
	struct mutex lock;		/* serialises read, poll and lseek */
	u64 cursor;			/* the next id this reader wants */
	u64 next;			/* the cursor after the line in line[] */
	u64 committed;			/* cursor as last published to
					 * the writers, under readers_lock
					 */
	struct tcpstate_netns_view view;	/* the namespaces it sees */
	bool listed;			/* opened for reading */
	bool eof;			/* was given end of file at unload */
	char line[TCPSTATE_EVENT_LINE_MAX];
};

static struct {
	/* Written by every emit: a cache line of its own. */
	atomic64_t head ____cacheline_aligned_in_smp;	/* last id taken */

	/* Read by every emit, written by readers after each read(). */
	atomic64_t consumed ____cacheline_aligned_in_smp;

	struct tcpstate_event_slot *slots;
	u64 size;
	u64 mask;
	bool shutdown;
	struct proc_dir_entry *pde;
	struct irq_work wake_work;
} ring;

/* Events overwritten while some open reader still wanted them. */
static DEFINE_PER_CPU(u64, tcpstate_event_overwritten);

static DECLARE_WAIT_QUEUE_HEAD(readers_wait);
static DECLARE_WAIT_QUEUE_HEAD(readers_gone);
static DEFINE_SPINLOCK(readers_lock);
static LIST_HEAD(readers);

/* No reader open: nothing can be overwritten before a reader had it. */
#define TCPSTATE_EVENT_NOBODY	S64_MAX

/*
 * Wakeups.  The packet path must not take the wait queue's spinlock for
 * every event: an epoll reader stays on the queue for good, so a plain
 * "wq_has_sleeper() then wake_up()" would take a global lock per segment
 * for as long as one is attached.  Instead emit only checks for sleepers
 * (one barrier, no store) and, if there are any and no wakeup is pending
 * already, queues this irq_work; one run wakes everyone for a whole burst.
 * The barrier in wq_has_sleeper() orders the slot's publication before the
 * check of the pending bit; irq_work_single() clears that bit and issues a
 * full barrier before calling us, so either the emitter sees the bit clear
 * and queues again, or this run's wakeup happens after the slot is
 * visible.
 */
static void tcpstate_event_wake(struct irq_work *work)
{
	wake_up_interruptible_poll(&readers_wait, EPOLLIN | EPOLLRDNORM);
}

static bool tcpstate_event_unread(u64 id)
{
	return id >= (u64)atomic64_read(&ring.consumed);
}

/* Readers sleep in read() or poll(): wake them, at most once a burst. */
static void tcpstate_event_kick(void)
{
	if (wq_has_sleeper(&readers_wait) && !irq_work_is_pending(&ring.wake_work))
		irq_work_queue(&ring.wake_work);
}

struct tcpstate_event *tcpstate_event_claim(struct tcpstate_event_claim *c,
					    u64 ts_ns)
{
	struct tcpstate_event_slot *slot;
	s64 cur, mine;
	u64 id, old;

	if (unlikely(!ring.slots))
		return NULL;

	local_irq_save(c->flags);
	id = atomic64_inc_return(&ring.head);
	if (!ts_ns)
		ts_ns = ktime_get_real_ns();
	slot = &ring.slots[id & ring.mask];
	mine = (s64)(id << 1);

	cur = atomic64_read(&slot->seq);
	for (;;) {
		old = (u64)cur >> 1;
		if (old > id) {
			/* Lapped on the way here: the record is lost. */
			if (tcpstate_event_unread(id))
				this_cpu_inc(tcpstate_event_overwritten);
			local_irq_restore(c->flags);
			tcpstate_event_kick();
			return NULL;
		}
		if (cur & 1) {
			/* An older writer on another CPU is still copying. */
			cpu_relax();
			cur = atomic64_read(&slot->seq);
			continue;
		}
		/* Fully ordered: the claim is visible before the record. */
		if (atomic64_try_cmpxchg(&slot->seq, &cur, mine | 1))
			break;
	}
	if (old && tcpstate_event_unread(old))
		this_cpu_inc(tcpstate_event_overwritten);

	c->slot = slot;
	c->seq = mine;
	slot->ev.id = id;
	slot->ev.ts_ns = ts_ns;
	return &slot->ev;
}

void tcpstate_event_publish(struct tcpstate_event_claim *c)
{
	struct tcpstate_event_slot *slot = c->slot;

	atomic64_set_release(&slot->seq, c->seq);
	local_irq_restore(c->flags);
	tcpstate_event_kick();
}

void tcpstate_event_stats_read(struct tcpstate_event_stats *st)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu(tcpstate_event_overwritten, cpu);
	st->emitted = atomic64_read(&ring.head);
	st->overwritten = sum;
}

/* Copy event @id out of the ring into @ev (if not NULL). */
static enum tcpstate_event_found slot_read(u64 id, struct tcpstate_event *ev)
{
	struct tcpstate_event_slot *slot = &ring.slots[id & ring.mask];
	s64 seq = atomic64_read_acquire(&slot->seq);
	u64 held = (u64)seq >> 1;

	if (held > id)
		return TCPSTATE_EVENT_LOST;
	if (held < id || (seq & 1))
		return TCPSTATE_EVENT_NONE;
	if (ev) {
		/* A racing writer is caught by the second look below. */
		*ev = data_race(slot->ev);
		/* The copy before the second look, as in read_seqcount_retry() */
		smp_rmb();
		if (atomic64_read(&slot->seq) != seq)
			return TCPSTATE_EVENT_LOST;
	}
	return TCPSTATE_EVENT_READY;
}

/* The oldest id that may still be in the ring. */
static u64 ring_oldest(void)
{
	u64 head = atomic64_read(&ring.head);

	return head >= ring.size ? head - ring.size + 1 : 1;
}

/*
 * Move @r's cursor past events of other namespaces.  Returns what is at
 * the cursor then; READY fills @ev.
 */
static enum tcpstate_event_found reader_peek(struct tcpstate_event_reader *r,
					     struct tcpstate_event *ev)
{
	enum tcpstate_event_found found;
	unsigned int skipped = 0;

	for (;;) {
		found = slot_read(r->cursor, ev);
		if (found != TCPSTATE_EVENT_READY ||
		    tcpstate_netns_visible(&r->view, ev->netns_id))
			return found;
		r->cursor++;
		if (!(++skipped % 1024))
			cond_resched();
	}
}

static int event_format(const struct tcpstate_event *ev, char *buf)
{
	struct tcpstate_line l = {
		.id = ev->id,
		.ts_ns = ev->ts_ns,
		.client = (const u8 *)&ev->caddr,
		.server = (const u8 *)&ev->saddr,
		.netns = ev->netns,
		.seq = ev->seq,
		.ack = ev->ack,
		.cport = ntohs(ev->cport),
		.sport = ntohs(ev->sport),
		.alen = ev->family == AF_INET ? 4 : 16,
		.side = ev->side,
		.old_state = ev->old_state,
		.new_state = ev->new_state,
		/* Timer, eviction and unload events have no segment: 0. */
		.tcpflags = ev->tcpflags,
		.reason = ev->reason,
		.ka_end = ev->ka_end,
	};

	return tcpstate_event_line(&l, buf);
}

/*
 * Put @r's next line in r->line and the cursor after it in r->next.
 * Returns its length, or 0 if there is nothing for @r yet.
 *
 * A lost line stands for every id from the cursor up to the oldest event
 * still in the ring: "id=<first lost id> ts=<now> lost=<count>".  The
 * count covers all namespaces, since what was overwritten cannot be told.
 */
static int reader_line(struct tcpstate_event_reader *r)
{
	struct tcpstate_event ev;
	u64 next;

	switch (reader_peek(r, &ev)) {
	case TCPSTATE_EVENT_READY:
		r->next = r->cursor + 1;
		return event_format(&ev, r->line);
	case TCPSTATE_EVENT_LOST:
		next = r->cursor;
		do
			next = max(next + 1, ring_oldest());
		while (slot_read(next, NULL) == TCPSTATE_EVENT_LOST);
		r->next = next;
		return scnprintf(r->line, TCPSTATE_EVENT_LINE_MAX,
				 "id=%llu ts=%llu lost=%llu\n", r->cursor,
				 ktime_get_real_ns(), next - r->cursor);
	default:
		return 0;
	}
}

/* Publish the slowest reader's cursor for the overwritten count. */
static void readers_commit(struct tcpstate_event_reader *r)
{
	struct tcpstate_event_reader *it;
	s64 slowest = TCPSTATE_EVENT_NOBODY;

	spin_lock(&readers_lock);
	if (r)
		r->committed = r->cursor;
	list_for_each_entry(it, &readers, node)
		slowest = min_t(s64, slowest, it->committed);
	atomic64_set(&ring.consumed, slowest);
	spin_unlock(&readers_lock);
}

static bool readers_at_eof(void)
{
	struct tcpstate_event_reader *it;
	bool all = true;

	spin_lock(&readers_lock);
	list_for_each_entry(it, &readers, node)
		all = all && it->eof;
	spin_unlock(&readers_lock);
	return all;
}

static bool reader_woken(struct tcpstate_event_reader *r)
{
	return slot_read(r->cursor, NULL) != TCPSTATE_EVENT_NONE ||
	       READ_ONCE(ring.shutdown);
}

static int events_open(struct inode *inode, struct file *file)
{
	struct tcpstate_netns_view view;
	struct tcpstate_event_reader *r;
	int err;

	err = tcpstate_netns_open(file, &view);
	if (err)
		return err;
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	mutex_init(&r->lock);
	r->view = view;
	r->cursor = ring_oldest();
	file->private_data = r;

	/* A write-only opener reads nothing and holds back no count. */
	if (file->f_mode & FMODE_READ) {
		r->listed = true;
		r->committed = r->cursor;
		spin_lock(&readers_lock);
		list_add(&r->node, &readers);
		spin_unlock(&readers_lock);
		readers_commit(NULL);
	}
	return 0;
}

static int events_release(struct inode *inode, struct file *file)
{
	struct tcpstate_event_reader *r = file->private_data;

	if (r->listed) {
		spin_lock(&readers_lock);
		list_del(&r->node);
		spin_unlock(&readers_lock);
		readers_commit(NULL);
		wake_up(&readers_gone);
	}
	mutex_destroy(&r->lock);
	kfree(r);
	return 0;
}

/*
 * As many whole lines as fit in @count, at least one: a buffer too small
 * for the next line gets -EINVAL, as /dev/kmsg does, and the line stays
 * for a read with a larger buffer.  Blocks until there is a line, unless
 * O_NONBLOCK; returns 0 (end of file) once the module is unloading and
 * nothing is left.
 */
static ssize_t events_read(struct file *file, char __user *buf, size_t count,
			   loff_t *ppos)
{
	struct tcpstate_event_reader *r = file->private_data;
	size_t done = 0;
	ssize_t ret;
	int len;

	ret = mutex_lock_interruptible(&r->lock);
	if (ret)
		return ret;

	for (;;) {
		len = reader_line(r);
		if (len) {
			if (len > count - done) {
				if (!done)
					ret = -EINVAL;
				break;
			}
			if (copy_to_user(buf + done, r->line, len)) {
				if (!done)
					ret = -EFAULT;
				break;
			}
			done += len;
			r->cursor = r->next;
			continue;
		}
		if (done)
			break;
		if (READ_ONCE(ring.shutdown)) {
			spin_lock(&readers_lock);
			r->eof = true;
			spin_unlock(&readers_lock);
			wake_up(&readers_gone);
			break;
		}
		if (file->f_flags & O_NONBLOCK) {
			ret = -EAGAIN;
			break;
		}
		ret = wait_event_interruptible(readers_wait, reader_woken(r));
		if (ret)
			break;
	}

	readers_commit(r);
	mutex_unlock(&r->lock);
	return done ? done : ret;
}

static ssize_t events_write(struct file *file, const char __user *buf,
			    size_t count, loff_t *ppos)
{
	return -EINVAL;
}

/* Only SEEK_SET 0 (the oldest event) and SEEK_END 0 (from now on). */
static loff_t events_lseek(struct file *file, loff_t offset, int whence)
{
	struct tcpstate_event_reader *r = file->private_data;

	if (offset)
		return -ESPIPE;
	if (whence != SEEK_SET && whence != SEEK_END)
		return -EINVAL;

	mutex_lock(&r->lock);
	if (whence == SEEK_SET)
		r->cursor = ring_oldest();
	else
		r->cursor = atomic64_read(&ring.head) + 1;
	readers_commit(r);
	mutex_unlock(&r->lock);
	return 0;
}

static __poll_t events_poll(struct file *file, poll_table *wait)
{
	struct tcpstate_event_reader *r = file->private_data;
	enum tcpstate_event_found found;
	struct tcpstate_event ev;

	poll_wait(file, &readers_wait, wait);

	if (mutex_trylock(&r->lock)) {
		found = reader_peek(r, &ev);
		mutex_unlock(&r->lock);
	} else {
		/* Someone is reading this file: say what is at its cursor. */
		found = slot_read(READ_ONCE(r->cursor), NULL);
	}

	if (found != TCPSTATE_EVENT_NONE)
		return EPOLLIN | EPOLLRDNORM;
	if (READ_ONCE(ring.shutdown))
		return EPOLLIN | EPOLLRDNORM | EPOLLHUP;
	return 0;
}

static const struct proc_ops events_ops = {
	.proc_open	= events_open,
	.proc_release	= events_release,
	.proc_read	= events_read,
	.proc_write	= events_write,
	.proc_lseek	= events_lseek,
	.proc_poll	= events_poll,
};

/*
 * @ring_size is rounded up to a power of two, so that an id finds its slot
 * with a mask; the ring then holds that many of the latest events.
 */
int tcpstate_event_init(unsigned int ring_size)
{
	int cpu;

	if (!ring_size || ring_size > TCPSTATE_EVENT_RING_MAX)
		return -EINVAL;

	ring.size = roundup_pow_of_two(ring_size);
	ring.mask = ring.size - 1;
	atomic64_set(&ring.head, 0);
	atomic64_set(&ring.consumed, TCPSTATE_EVENT_NOBODY);
	ring.shutdown = false;
	init_irq_work(&ring.wake_work, tcpstate_event_wake);
	for_each_possible_cpu(cpu)
		per_cpu(tcpstate_event_overwritten, cpu) = 0;

	ring.slots = kvcalloc(ring.size, sizeof(*ring.slots), GFP_KERNEL);
	if (!ring.slots)
		return -ENOMEM;

	ring.pde = proc_create("tcpstate_events", 0444, NULL, &events_ops);
	if (!ring.pde)
		goto err_proc;
	return 0;

err_proc:
	kvfree(ring.slots);
	ring.slots = NULL;
	return -ENOMEM;
}

/* Nothing waits on readers_wait any more. */
static bool readers_wait_empty(void)
{
	bool empty;

	spin_lock_irq(&readers_wait.lock);
	empty = list_empty(&readers_wait.head);
	spin_unlock_irq(&readers_wait.lock);
	return empty;
}

/*
 * The caller has stopped emitting.  In order:
 *
 * 1. Readers blocked in read() or poll() wake up, drain what is left and
 *    get end of file; we give them up to TCPSTATE_EVENT_EOF_GRACE.
 * 2. proc_remove() waits for every file operation in flight and releases
 *    the files still open: from then on no call of ours runs for them,
 *    so nothing adds itself to readers_wait again.
 * 3. readers_wait lives in the module's memory, and waiters may still be
 *    on it.  An epoll set's entry stays there until the queue says
 *    POLLFREE (see wake_up_pollfree()); poll() and select() sleepers
 *    take theirs off themselves once they have polled again.  So wake
 *    with POLLFREE until the queue is empty.  (wake_up_pollfree() itself
 *    warns if a poll() sleeper has not left yet.)
 * 4. epoll reads the queue's address under RCU to take its entry off, so
 *    the queue must outlive a grace period: the module's memory is freed
 *    only after this returns.
 */
void tcpstate_event_exit(void)
{
	unsigned int tries = 0;

	WRITE_ONCE(ring.shutdown, true);
	wake_up_interruptible_all(&readers_wait);
	wait_event_timeout(readers_gone, readers_at_eof(),
			   TCPSTATE_EVENT_EOF_GRACE);
	proc_remove(ring.pde);
	ring.pde = NULL;
	irq_work_sync(&ring.wake_work);

	while (!readers_wait_empty()) {
		__wake_up(&readers_wait, TASK_NORMAL, 0,
			  poll_to_key(EPOLLHUP | POLLFREE));
		if (readers_wait_empty())
			break;
		if (++tries == 250)
			pr_warn("tcpstate: a poll() of tcpstate_events does not return; waiting for it\n");
		msleep(20);
	}
	synchronize_rcu();

	kvfree(ring.slots);
	ring.slots = NULL;
}
