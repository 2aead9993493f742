/* tag.c: pool tags as people write them ("Rdwn") and as numbers. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rundown/rundown.h>

/* A character that reads the same in a tag list: printable, not blank. */
static int
tag_char_ok(unsigned char c)
{
	return c > ' ' && c < 0x7f;
}

int
rundown_tag_parse(const char *s, uint32_t *tag)
{
	uint32_t v = 0;
	size_t i, n;
	int d;

	if (s == NULL || tag == NULL)
		return -EINVAL;
	n = strlen(s);
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (n > 10)
			return -EINVAL;
		for (i = 2; i < n; i++) {
			if (s[i] >= '0' && s[i] <= '9')
				d = s[i] - '0';
			else if (s[i] >= 'a' && s[i] <= 'f')
				d = s[i] - 'a' + 10;
			else if (s[i] >= 'A' && s[i] <= 'F')
				d = s[i] - 'A' + 10;
			else
				return -EINVAL;
			v = v << 4 | (uint32_t)d;
		}
		*tag = v;
		return 0;
	}
	if (n != 4)
		return -EINVAL;
	for (i = 0; i < 4; i++)
		if (!tag_char_ok((unsigned char)s[i]))
			return -EINVAL;
	*tag = RUNDOWN_TAG(s[0], s[1], s[2], s[3]);
	return 0;
}

char *
rundown_tag_format(uint32_t tag, char *buf)
{
	unsigned char c[4];
	int i;

	for (i = 0; i < 4; i++) {
		c[i] = (unsigned char)(tag >> (8 * i));
		if (!tag_char_ok(c[i])) {
			snprintf(buf, RUNDOWN_TAG_BUFSZ, "0x%08x", tag);
			return buf;
		}
	}
	/* "0x12" as characters would parse back as a number. */
	if (c[0] == '0' && (c[1] == 'x' || c[1] == 'X'))
		snprintf(buf, RUNDOWN_TAG_BUFSZ, "0x%08x", tag);
	else {
		memcpy(buf, c, 4);
		buf[4] = '\0';
	}
	return buf;
}
