/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A very small unit-test harness: TEST(name) defines a case, the CHECK
 * macros record failures with file:line, and unit_main() runs every case
 * and closes with "N passed, N failed".
 */
#ifndef TCPSTATE_UNIT_H
#define TCPSTATE_UNIT_H

#include <stdio.h>
#include <string.h>

struct unit_case {
	const char *name;
	void (*fn)(void);
};

#define UNIT_MAX_CASES 512

static struct unit_case unit_cases[UNIT_MAX_CASES];
static int unit_nr_cases;
static int unit_failed_checks;

#define TEST(name)							\
	static void test_##name(void);					\
	__attribute__((constructor)) static void register_##name(void)	\
	{								\
		if (unit_nr_cases < UNIT_MAX_CASES)			\
			unit_cases[unit_nr_cases++] =			\
				(struct unit_case){ #name, test_##name }; \
	}								\
	static void test_##name(void)

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n",	\
				__FILE__, __LINE__, #cond);		\
			unit_failed_checks++;				\
		}							\
	} while (0)

#define CHECK_EQ(a, b)							\
	do {								\
		long long _a = (long long)(a), _b = (long long)(b);	\
		if (_a != _b) {						\
			fprintf(stderr, "  %s:%d: %s == %lld, want %s == %lld\n", \
				__FILE__, __LINE__, #a, _a, #b, _b);	\
			unit_failed_checks++;				\
		}							\
	} while (0)

#define CHECK_STR(a, b)							\
	do {								\
		const char *_a = (a), *_b = (b);			\
		if (!_a || !_b || strcmp(_a, _b)) {			\
			fprintf(stderr, "  %s:%d: %s == \"%s\", want \"%s\"\n", \
				__FILE__, __LINE__, #a, _a ? _a : "(null)", \
				_b ? _b : "(null)");			\
			unit_failed_checks++;				\
		}							\
	} while (0)

/* Run every case (or those whose name contains argv[1]). */
static inline int unit_main(int argc, char **argv)
{
	int passed = 0, failed = 0, i;

	for (i = 0; i < unit_nr_cases; i++) {
		int before = unit_failed_checks;

		if (argc > 1 && !strstr(unit_cases[i].name, argv[1]))
			continue;
		unit_cases[i].fn();
		if (unit_failed_checks == before) {
			printf("PASS: %s\n", unit_cases[i].name);
			passed++;
		} else {
			printf("FAIL: %s\n", unit_cases[i].name);
			failed++;
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

#endif /* TCPSTATE_UNIT_H */
