// SPDX-License-Identifier: GPL-2.0-only
/*
 * perfctr.c - perf_event_open counters around the measured region.
 *
 * Two groups per thread: a hardware group led by cycles and a software
 * group led by task-clock.  They are separate so that a machine without a
 * PMU (every VM we run on, see docs/machine-notes.md) still gets its
 * software counters: a group whose leader fails takes its members with it.
 *
 * If the hardware leader fails, the next event that opens leads instead,
 * because some hypervisors expose a partial PMU (instructions but no
 * cycles, say); a member its group refuses is tried alone.  Each event
 * is read on its own, so every event keeps its own time_enabled and
 * time_running, and multiplexing shows per event.
 *
 * Nothing here fails the run: an event that cannot be opened or read keeps
 * its errno, and frag_perf_json() prints null plus a reason, never 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/perf_event.h>

#include "perfctr.h"

#define HW_CACHE(cache, op, res)					\
	((PERF_COUNT_HW_CACHE_##cache) |				\
	 (PERF_COUNT_HW_CACHE_OP_##op << 8) |				\
	 (PERF_COUNT_HW_CACHE_RESULT_##res << 16))

struct frag_perf_desc {
	const char *name;
	uint32_t type;
	uint64_t config;
};

/*
 * Order matters: the first event of each kind leads its group.  cycles and
 * task-clock lead because they are the ones every other figure is divided by.
 */
static const struct frag_perf_desc frag_perf_hw[] = {
	{ "cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES },
	{ "instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS },
	{ "cache-references", PERF_TYPE_HARDWARE,
	  PERF_COUNT_HW_CACHE_REFERENCES },
	{ "cache-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES },
	{ "L1-dcache-load-misses", PERF_TYPE_HW_CACHE,
	  HW_CACHE(L1D, READ, MISS) },
	{ "LLC-load-misses", PERF_TYPE_HW_CACHE, HW_CACHE(LL, READ, MISS) },
	{ "branch-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES },
};

static const struct frag_perf_desc frag_perf_sw[] = {
	{ "task-clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK },
	{ "page-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS },
	{ "context-switches", PERF_TYPE_SOFTWARE,
	  PERF_COUNT_SW_CONTEXT_SWITCHES },
	{ "cpu-migrations", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS },
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

_Static_assert(ARRAY_SIZE(frag_perf_hw) + ARRAY_SIZE(frag_perf_sw) <=
	       FRAG_PERF_MAX_EVENTS, "FRAG_PERF_MAX_EVENTS too small");

/* The layout read() returns for TOTAL_TIME_ENABLED|RUNNING|ID, no GROUP. */
struct frag_perf_read {
	uint64_t value;
	uint64_t time_enabled;
	uint64_t time_running;
	uint64_t id;
};

static int frag_perf_event_open(const struct frag_perf_desc *d, bool hw,
				int group_fd)
{
	struct perf_event_attr attr;
	long fd;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = d->type;
	attr.config = d->config;
	/* Only the leader starts disabled; members follow it. */
	attr.disabled = group_fd < 0;
	attr.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED |
			   PERF_FORMAT_TOTAL_TIME_RUNNING | PERF_FORMAT_ID;
	/*
	 * perf_event_paranoid=2 refuses kernel-side hardware counting, so
	 * hardware events count user space only.  Software events must not
	 * exclude the kernel: page faults and context switches happen there
	 * and would read zero.
	 */
	if (hw) {
		attr.exclude_kernel = 1;
		attr.exclude_hv = 1;
	}

	fd = syscall(SYS_perf_event_open, &attr, 0, -1, group_fd,
		     PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : (int)fd;
}

/*
 * Open one group.  The first event that opens leads it: if cycles is not
 * there, instructions (say) leads the rest instead of all being lost.
 */
static void frag_perf_open_group(struct frag_perf *p,
				 const struct frag_perf_desc *d, int n,
				 bool hw)
{
	int leader_fd = -1;
	int i;

	for (i = 0; i < n && p->nr < FRAG_PERF_MAX_EVENTS; i++) {
		struct frag_perf_event *e = &p->ev[p->nr++];
		bool alone = false;
		int fd;

		memset(e, 0, sizeof(*e));
		e->name = d[i].name;
		e->fd = -1;

		fd = frag_perf_event_open(&d[i], hw, leader_fd);
		if (fd < 0 && leader_fd >= 0) {
			/* The group would not take it; alone it may count. */
			fd = frag_perf_event_open(&d[i], hw, -1);
			alone = true;
		}
		if (fd < 0) {
			e->err = -fd;
			continue;
		}
		if (leader_fd < 0)
			leader_fd = fd;
		e->fd = fd;
		e->leader = alone || fd == leader_fd;
	}
}

void frag_perf_open(struct frag_perf *p, bool enabled)
{
	memset(p, 0, sizeof(*p));
	p->enabled = enabled;
	if (!enabled)
		return;

	frag_perf_open_group(p, frag_perf_hw, ARRAY_SIZE(frag_perf_hw), true);
	frag_perf_open_group(p, frag_perf_sw, ARRAY_SIZE(frag_perf_sw), false);
}

/*
 * A profiler's switch.  "perf record --control fd:CTL,ACK --delay=-1"
 * starts with sampling off and obeys "enable"/"disable" written to CTL,
 * answering "ack\n" on ACK.  fraglib.profile hands the engine its ends of
 * the two pipes as FRAGLIB_PERF_CTL="ctl,ack"; the engine switches
 * sampling on around the measured region only, so the TSC calibration
 * and the printing of samples are not in the profile.  Waiting for the
 * ack keeps the region from starting before perf samples it.  Two-thread
 * workloads start and stop once per thread: the first start enables,
 * the last stop disables.
 */
static pthread_mutex_t frag_perf_ctl_lock = PTHREAD_MUTEX_INITIALIZER;
static int frag_perf_ctl_fd = -2, frag_perf_ack_fd = -1, frag_perf_ctl_users;

static void frag_perf_ctl(const char *cmd, int delta)
{
	char ack[16];
	ssize_t n;

	pthread_mutex_lock(&frag_perf_ctl_lock);
	if (frag_perf_ctl_fd == -2) {
		const char *env = getenv("FRAGLIB_PERF_CTL");

		if (!env || sscanf(env, "%d,%d", &frag_perf_ctl_fd,
				   &frag_perf_ack_fd) != 2)
			frag_perf_ctl_fd = -1;
	}
	/* A stop without a start (no measured sample) switches nothing. */
	if (delta < 0 && !frag_perf_ctl_users)
		delta = 0;
	frag_perf_ctl_users += delta;
	if (frag_perf_ctl_fd >= 0 && delta &&
	    (delta > 0 ? frag_perf_ctl_users == 1 : frag_perf_ctl_users == 0)) {
		n = write(frag_perf_ctl_fd, cmd, strlen(cmd));
		/* No ack: perf is gone; stop talking to it. */
		if (n < 0 || read(frag_perf_ack_fd, ack, sizeof(ack)) <= 0)
			frag_perf_ctl_fd = -1;
	}
	pthread_mutex_unlock(&frag_perf_ctl_lock);
}

void frag_perf_start(struct frag_perf *p)
{
	int i;

	frag_perf_ctl("enable\n", 1);
	if (!p->enabled)
		return;
	/* Software first so task-clock covers the hardware enables too. */
	for (i = p->nr - 1; i >= 0; i--) {
		struct frag_perf_event *e = &p->ev[i];

		if (e->fd < 0 || !e->leader)
			continue;
		ioctl(e->fd, PERF_EVENT_IOC_RESET, PERF_IOC_FLAG_GROUP);
		ioctl(e->fd, PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP);
	}
}

void frag_perf_stop(struct frag_perf *p)
{
	int i;

	if (p->enabled) {
		for (i = 0; i < p->nr; i++) {
			struct frag_perf_event *e = &p->ev[i];

			if (e->fd < 0 || !e->leader)
				continue;
			ioctl(e->fd, PERF_EVENT_IOC_DISABLE, PERF_IOC_FLAG_GROUP);
		}
	}
	frag_perf_ctl("disable\n", -1);
}

void frag_perf_read_close(struct frag_perf *p)
{
	int i;

	if (!p->enabled)
		return;
	for (i = 0; i < p->nr; i++) {
		struct frag_perf_event *e = &p->ev[i];
		struct frag_perf_read r;
		ssize_t n;

		if (e->fd < 0)
			continue;
		n = read(e->fd, &r, sizeof(r));
		if (n == (ssize_t)sizeof(r)) {
			e->value = r.value;
			e->time_enabled = r.time_enabled;
			e->time_running = r.time_running;
		} else {
			/* A short read is as good as no value at all. */
			e->err = n < 0 ? errno : EIO;
		}
	}
	/* Members before leaders, so no leader closes under its group. */
	for (i = p->nr - 1; i >= 0; i--) {
		struct frag_perf_event *e = &p->ev[i];

		if (e->fd >= 0 && !e->leader) {
			close(e->fd);
			e->fd = -1;
		}
	}
	for (i = 0; i < p->nr; i++) {
		struct frag_perf_event *e = &p->ev[i];

		if (e->fd >= 0) {
			close(e->fd);
			e->fd = -1;
		}
	}
}

/* The sysctl value, read when needed: it can change between runs. */
static int frag_perf_paranoid(void)
{
	char buf[32];
	ssize_t n;
	int fd, v;

	fd = open("/proc/sys/kernel/perf_event_paranoid", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return FRAG_PERF_PARANOID_READ;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return FRAG_PERF_PARANOID_READ;
	buf[n] = '\0';
	if (sscanf(buf, "%d", &v) != 1)
		return FRAG_PERF_PARANOID_READ;
	return v;
}

static const struct frag_perf_desc *frag_perf_find(const char *name, bool *hw)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(frag_perf_hw); i++)
		if (!strcmp(frag_perf_hw[i].name, name)) {
			*hw = true;
			return &frag_perf_hw[i];
		}
	for (i = 0; i < ARRAY_SIZE(frag_perf_sw); i++)
		if (!strcmp(frag_perf_sw[i].name, name)) {
			*hw = false;
			return &frag_perf_sw[i];
		}
	return NULL;
}

/*
 * Why @err on event @name means no value.  @paranoid is the sysctl's
 * value, or FRAG_PERF_PARANOID_READ to read it now (a test passes one).
 */
const char *fraglib_perf_reason(const char *name, int err, int paranoid,
				char *buf, size_t len)
{
	const char *ename;
	bool hw = false;

	switch (err) {
	case ENOENT:
		frag_perf_find(name, &hw);
		if (hw)
			snprintf(buf, len, "not supported: no PMU (ENOENT)");
		else
			snprintf(buf, len,
				 "not supported: event not supported (ENOENT)");
		break;
	case EOPNOTSUPP:
		snprintf(buf, len,
			 "not supported: event not supported (EOPNOTSUPP)");
		break;
	case EACCES:
	case EPERM:
		ename = err == EACCES ? "EACCES" : "EPERM";
		if (paranoid == FRAG_PERF_PARANOID_READ)
			paranoid = frag_perf_paranoid();
		if (paranoid == FRAG_PERF_PARANOID_READ)
			snprintf(buf, len, "not permitted: "
				 "perf_event_paranoid=unknown (%s)", ename);
		else
			snprintf(buf, len, "not permitted: "
				 "perf_event_paranoid=%d (%s)", paranoid,
				 ename);
		break;
	case ENOSYS:
		snprintf(buf, len, "perf_event_open not available (ENOSYS)");
		break;
	case EINVAL:
		snprintf(buf, len, "not supported: invalid event (EINVAL)");
		break;
	case EMFILE:
		snprintf(buf, len, "too many open files (EMFILE)");
		break;
	default:
		snprintf(buf, len, "perf_event_open failed: %s (errno %d)",
			 strerror(err), err);
		break;
	}
	return buf;
}

const char *frag_perf_reason(const struct frag_perf_event *e, char *buf,
			     size_t len)
{
	if (!e->err)
		return NULL;
	return fraglib_perf_reason(e->name, e->err, FRAG_PERF_PARANOID_READ,
				   buf, len);
}

int fraglib_perf_nevents(void)
{
	return (int)(ARRAY_SIZE(frag_perf_hw) + ARRAY_SIZE(frag_perf_sw));
}

const char *fraglib_perf_event_at(int i, int *hw)
{
	int nhw = (int)ARRAY_SIZE(frag_perf_hw);

	if (i < 0 || i >= fraglib_perf_nevents())
		return NULL;
	*hw = i < nhw;
	return i < nhw ? frag_perf_hw[i].name : frag_perf_sw[i - nhw].name;
}

/*
 * Open @name alone, with the engine's attributes, around a little work.
 * An event that opens but never gets a counter (time_running == 0 while
 * enabled: someone else holds them) cannot be measured either.
 */
int fraglib_perf_probe(const char *name, char *reason, size_t len)
{
	const struct frag_perf_desc *d;
	struct frag_perf_read r;
	volatile unsigned long sink = 0;
	unsigned long i;
	bool hw;
	ssize_t n;
	int fd;

	reason[0] = '\0';
	d = frag_perf_find(name, &hw);
	if (!d) {
		snprintf(reason, len, "unknown event '%s'", name);
		return EINVAL;
	}
	fd = frag_perf_event_open(d, hw, -1);
	if (fd < 0) {
		fraglib_perf_reason(name, -fd, FRAG_PERF_PARANOID_READ, reason,
				    len);
		return -fd;
	}
	ioctl(fd, PERF_EVENT_IOC_RESET, 0);
	ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
	for (i = 0; i < 20000; i++)	/* something to count */
		sink += i;
	ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
	n = read(fd, &r, sizeof(r));
	if (n != (ssize_t)sizeof(r)) {
		int err = n < 0 ? errno : EIO;

		close(fd);
		snprintf(reason, len, "opened but read %s",
			 n < 0 ? strerror(err) : "returned too few bytes");
		return err;
	}
	close(fd);
	if (r.time_enabled && !r.time_running) {
		snprintf(reason, len, "not measured: never scheduled on a "
			 "counter (time_running=0)");
		return -1;
	}
	return 0;
}

/* Reasons are built here from fixed text and strerror(); escape anyway. */
static void frag_perf_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void frag_perf_json(FILE *f, const struct frag_perf *p, int thread_idx)
{
	char buf[128];
	int i;

	if (!p->enabled) {
		fprintf(f, "{\"thread\": %d, \"disabled\": true}", thread_idx);
		return;
	}

	fprintf(f, "{\"thread\": %d, \"events\": {", thread_idx);
	for (i = 0; i < p->nr; i++) {
		const struct frag_perf_event *e = &p->ev[i];
		const char *reason = frag_perf_reason(e, buf, sizeof(buf));

		if (i)
			fputs(", ", f);
		frag_perf_json_str(f, e->name);
		if (reason) {
			fprintf(f, ": {\"value\": null, \"errno\": %d, "
				"\"reason\": ", e->err);
			frag_perf_json_str(f, reason);
			fputc('}', f);
		} else {
			fprintf(f, ": {\"value\": %" PRIu64
				", \"time_enabled\": %" PRIu64
				", \"time_running\": %" PRIu64
				", \"errno\": 0}",
				e->value, e->time_enabled, e->time_running);
		}
	}
	fputs("}}", f);
}
