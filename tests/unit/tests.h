/* Every unit test, in the order they run. */
#define ALL_TESTS                        \
    X(utf8_valid_table)                  \
    X(buf_append_and_cap)                \
    X(registry_rejects_bad_families)     \
    X(counter_values)                    \
    X(gauge_values)                      \
    X(histogram_values)                  \
    X(bucket_helpers)                    \
    X(labels_lookup)                     \
    X(child_limit_counts_drops)          \
    X(registry_default_child_limit)      \
    X(remove_and_clear)                  \
    X(many_children_sorted)              \
    X(info_and_mirror)                   \
    X(value_region_full)                 \
    X(golden_text_004)                   \
    X(golden_openmetrics)                \
    X(format_rules)                      \
    X(format_double_table)               \
    X(negotiate_table)                   \
    X(accepts_gzip_table)                \
    X(gzip_round_trip)                   \
    X(concurrent_writes_and_scrapes)     \
    X(more_threads_than_shards)          \
    X(lookup_races_removal)              \
    X(proc_parse_stat_odd_comm)          \
    X(proc_parse_btime_and_limits)       \
    X(process_collector_fixture)         \
    X(process_collector_unlimited_fds)   \
    X(process_collector_missing_files)   \
    X(process_collector_live)
