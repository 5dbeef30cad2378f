# benches/mixed.awk: the persistence and replication benchmarks' data set as
# a RESP command stream for redis-cli --pipe: n keys (awk -v n=...), 60%
# 32-byte strings and 10% each of 3-field hashes, 3-member sets, 3-member
# sorted sets and 3-element lists. Shared by compare.sh and bgsave.sh so
# both measure the same data.
BEGIN {
    for (i = 0; i < n; i++) {
        t = i % 10
        if (t < 6) { k = "key:" i; v = sprintf("%032d", i)
            printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$32\r\n%s\r\n", length(k), k, v }
        else if (t == 6) { k = "h:" i; printf "*8\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$2\r\nv2\r\n$2\r\nf3\r\n$2\r\nv3\r\n", length(k), k }
        else if (t == 7) { k = "s:" i; printf "*5\r\n$4\r\nSADD\r\n$%d\r\n%s\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", length(k), k }
        else if (t == 8) { k = "z:" i; printf "*8\r\n$4\r\nZADD\r\n$%d\r\n%s\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nb\r\n$1\r\n3\r\n$1\r\nc\r\n", length(k), k }
        else { k = "l:" i; printf "*5\r\n$5\r\nRPUSH\r\n$%d\r\n%s\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", length(k), k }
    }
}
