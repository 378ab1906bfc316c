"""Polls a lenta feed the way Python feed readers do, with feedparser (Debian: python3-feedparser).

Usage: /usr/bin/python3 feedparser_poll.py URL [MIN_ENTRIES]

First fetch: 200, well-formed (bozo == 0), at least MIN_ENTRIES entries, each with an id, a
title, a link and a parsed date, and validators (ETag, Last-Modified) to store. Second fetch
with etag= and modified= from the first: 304, as feedparser's conditional GET expects. Prints
what it saw; exits 1 on the first failed expectation.
"""

import sys

import feedparser


def fail(message):
    print(f"  FAIL: {message}")
    sys.exit(1)


def main():
    url = sys.argv[1]
    min_entries = int(sys.argv[2]) if len(sys.argv) > 2 else 1

    first = feedparser.parse(url)
    status = first.get("status")
    if status != 200:
        fail(f"{url}: first fetch status {status!r}, expected 200")
    if first.bozo:
        fail(f"{url}: bozo={first.bozo} ({first.get('bozo_exception')!r})")
    entries = first.entries
    if len(entries) < min_entries:
        fail(f"{url}: {len(entries)} entries, expected at least {min_entries}")
    for i, entry in enumerate(entries):
        for field in ("id", "title", "link"):
            if not entry.get(field):
                fail(f"{url}: entry {i} has no {field}: {dict(entry)!r}")
        if not (entry.get("published_parsed") or entry.get("updated_parsed")):
            fail(f"{url}: entry {i} ({entry.get('id')}) has no parseable date")
    if len(set(e.id for e in entries)) != len(entries):
        fail(f"{url}: entry ids are not unique")
    etag, modified = first.get("etag"), first.get("modified")
    if not etag or not modified:
        fail(f"{url}: missing validators etag={etag!r} modified={modified!r}")
    encoding = first.headers.get("content-encoding", "identity")
    print(f"  {url}: 200, {len(entries)} entries, {first.version}, {encoding}, ETag {etag}")

    second = feedparser.parse(url, etag=etag, modified=modified)
    if second.get("status") != 304:
        fail(f"{url}: conditional fetch status {second.get('status')!r}, expected 304")
    if second.entries:
        fail(f"{url}: a 304 came with {len(second.entries)} entries")
    print(f"  {url}: conditional poll with etag= and modified= -> 304")

    # A reader that only keeps Last-Modified (no ETag) is answered 304 too.
    third = feedparser.parse(url, modified=modified)
    if third.get("status") != 304:
        fail(f"{url}: If-Modified-Since alone gave {third.get('status')!r}, expected 304")
    print(f"  {url}: conditional poll with modified= only -> 304")


if __name__ == "__main__":
    main()
