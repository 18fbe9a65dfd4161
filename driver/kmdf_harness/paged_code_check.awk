# paged_code_check.awk - PAGED_CODE() against the PAGE section in the KMDF glue sources.
# A function that asserts PAGED_CODE() must be named in #pragma alloc_text(PAGE, ...) (or INIT),
# and a function placed in PAGE must assert PAGED_CODE() (wdm.h: PAGED_CODE checks the IRQL in
# checked builds; Windows docs "Making Drivers Pageable"). Prints each mismatch; exit 1 if any.
#   awk -f paged_code_check.awk kmdf/*.c
{ sub(/\r$/, "") }
/^#pragma alloc_text\((PAGE|INIT), *[A-Za-z0-9_]+\)/ {
    line = $0; sub(/^#pragma alloc_text\(/, "", line); split(line, parts, /, */)
    name = parts[2]; sub(/\).*$/, "", name)
    placed[name] = parts[1]; where[name] = FILENAME
    next
}
/^[A-Za-z_][^;]*[A-Za-z0-9_]+\(/ && !/;[ \t]*$/ && !/^#/ {
    line = $0; sub(/\(.*$/, "", line); n = split(line, words, /[ \t*]+/); current = words[n]
}
/PAGED_CODE\(\);/ { asserts[current] = FILENAME }
END {
    bad = 0
    for (f in asserts) if (!(f in placed)) { printf "%s: %s asserts PAGED_CODE() but is not in alloc_text(PAGE)\n", asserts[f], f; bad = 1 }
    for (f in placed) if (placed[f] == "PAGE" && !(f in asserts)) { printf "%s: %s is in the PAGE section without PAGED_CODE()\n", where[f], f; bad = 1 }
    exit bad
}
