//! The side-effect-free built-in functions each dialect allows in a [`ReadOnlySql`](super::ReadOnlySql) query: an allowlist, sorted (binary search), unqualified and lowercase.
//!
//! Never on a list: functions that run SQL held in a string, touch files, the network,
//! locks, notifications, sequences, transactions, replication, configuration or the
//! server, and sleep-like functions. `Generic` allows what every dialect here allows.

/// PostgreSQL: aggregate, window, string, numeric, date/time, conditional, type, JSON, array, range, series, text-search, bit and network functions.
pub(crate) const POSTGRES: &[&str] = &[
    "abbrev", "abs", "acos", "acosd", "acosh", "age", "any_value", "array_agg", "array_append",
    "array_cat", "array_dims", "array_fill", "array_length", "array_lower", "array_ndims",
    "array_position", "array_positions", "array_prepend", "array_remove", "array_replace",
    "array_reverse", "array_sample", "array_shuffle", "array_sort", "array_to_json",
    "array_to_string", "array_to_tsvector", "array_upper", "ascii", "asin", "asind", "asinh",
    "atan", "atan2", "atan2d", "atand", "atanh", "avg", "bit_and", "bit_count", "bit_length",
    "bit_or", "bit_xor", "bool_and", "bool_or", "broadcast", "btrim", "cardinality", "cbrt",
    "ceil", "ceiling", "char_length", "character_length", "chr", "clock_timestamp", "coalesce",
    "concat", "concat_ws", "corr", "cos", "cosd", "cosh", "cot", "cotd", "count", "covar_pop",
    "covar_samp", "cume_dist", "current_date", "current_time", "current_timestamp", "date_add",
    "date_bin", "date_part", "date_subtract", "date_trunc", "daterange", "decode", "degrees",
    "dense_rank", "div", "encode", "erf", "erfc", "every", "exp", "extract", "factorial",
    "family", "first_value", "floor", "format", "gcd", "gen_random_uuid", "generate_series",
    "generate_subscripts", "get_bit", "get_byte", "greatest", "host", "inet_same_family",
    "initcap", "int4range", "int8range", "isempty", "isfinite", "json_agg",
    "json_array_elements", "json_array_elements_text", "json_array_length", "json_build_array",
    "json_build_object", "json_each", "json_each_text", "json_extract_path",
    "json_extract_path_text", "json_object", "json_object_agg", "json_object_keys",
    "json_scalar", "json_strip_nulls", "json_to_record", "json_to_recordset", "json_typeof",
    "jsonb_agg", "jsonb_array_elements", "jsonb_array_elements_text", "jsonb_array_length",
    "jsonb_build_array", "jsonb_build_object", "jsonb_each", "jsonb_each_text",
    "jsonb_extract_path", "jsonb_extract_path_text", "jsonb_insert", "jsonb_object",
    "jsonb_object_agg", "jsonb_object_keys", "jsonb_path_exists", "jsonb_path_match",
    "jsonb_path_query", "jsonb_path_query_array", "jsonb_path_query_first", "jsonb_pretty",
    "jsonb_set", "jsonb_set_lax", "jsonb_strip_nulls", "jsonb_to_record", "jsonb_to_recordset",
    "jsonb_typeof", "justify_days", "justify_hours", "justify_interval", "lag", "last_value",
    "lcm", "lead", "least", "left", "length", "ln", "localtime", "localtimestamp", "log",
    "log10", "lower", "lower_inc", "lower_inf", "lpad", "ltrim", "make_date", "make_interval",
    "make_time", "make_timestamp", "make_timestamptz", "masklen", "max", "md5", "min",
    "min_scale", "mod", "mode", "netmask", "network", "normalize", "now", "nth_value", "ntile",
    "nullif", "num_nonnulls", "num_nulls", "numnode", "numrange", "octet_length", "overlay",
    "parse_ident", "percent_rank", "percentile_cont", "percentile_disc", "pg_typeof",
    "phraseto_tsquery", "pi", "plainto_tsquery", "position", "power", "querytree",
    "quote_ident", "quote_literal", "quote_nullable", "radians", "random", "random_normal",
    "range_agg", "range_intersect_agg", "range_merge", "rank", "regexp_count", "regexp_instr",
    "regexp_like", "regexp_match", "regexp_matches", "regexp_replace", "regexp_split_to_array",
    "regexp_split_to_table", "regexp_substr", "regr_avgx", "regr_avgy", "regr_count",
    "regr_intercept", "regr_r2", "regr_slope", "regr_sxx", "regr_sxy", "regr_syy", "repeat",
    "replace", "reverse", "right", "round", "row_number", "row_to_json", "rpad", "rtrim",
    "scale", "set_bit", "set_byte", "setweight", "sha224", "sha256", "sha384", "sha512", "sign",
    "sin", "sind", "sinh", "split_part", "sqrt", "starts_with", "statement_timestamp", "stddev",
    "stddev_pop", "stddev_samp", "string_agg", "string_to_array", "string_to_table", "strip",
    "strpos", "substr", "substring", "sum", "tan", "tand", "tanh", "timeofday", "to_char",
    "to_date", "to_hex", "to_json", "to_jsonb", "to_number", "to_timestamp", "to_tsquery",
    "to_tsvector", "transaction_timestamp", "translate", "trim", "trim_array", "trim_scale",
    "trunc", "ts_headline", "ts_rank", "ts_rank_cd", "tsrange", "tstzrange",
    "tsvector_to_array", "unistr", "unnest", "upper", "upper_inc", "upper_inf", "var_pop",
    "var_samp", "variance", "websearch_to_tsquery", "width_bucket",
];

/// SQLite: core scalar, aggregate, window, date/time, math, JSON and FTS5 functions.
pub(crate) const SQLITE: &[&str] = &[
    "abs", "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "avg", "bm25", "ceil",
    "ceiling", "char", "coalesce", "concat", "concat_ws", "cos", "cosh", "count", "cume_dist",
    "date", "datetime", "degrees", "dense_rank", "exp", "first_value", "floor", "format",
    "generate_series", "glob", "group_concat", "hex", "highlight", "if", "ifnull", "iif",
    "instr", "json", "json_array", "json_array_length", "json_each", "json_error_position",
    "json_extract", "json_group_array", "json_group_object", "json_insert", "json_object",
    "json_patch", "json_pretty", "json_quote", "json_remove", "json_replace", "json_set",
    "json_tree", "json_type", "json_valid", "jsonb", "jsonb_array", "jsonb_extract",
    "jsonb_group_array", "jsonb_group_object", "jsonb_insert", "jsonb_object", "jsonb_patch",
    "jsonb_remove", "jsonb_replace", "jsonb_set", "julianday", "lag", "last_value", "lead",
    "length", "like", "likelihood", "likely", "ln", "log", "log10", "log2", "lower", "ltrim",
    "max", "min", "mod", "nth_value", "ntile", "nullif", "octet_length", "percent_rank", "pi",
    "pow", "power", "printf", "quote", "radians", "random", "randomblob", "rank", "replace",
    "round", "row_number", "rtrim", "sign", "sin", "sinh", "snippet", "soundex", "sqrt",
    "strftime", "string_agg", "substr", "substring", "sum", "tan", "tanh", "time", "timediff",
    "total", "trim", "trunc", "typeof", "unhex", "unicode", "unistr", "unixepoch", "unlikely",
    "upper", "zeroblob",
];

/// MySQL: aggregate, window, string, numeric, date/time, conditional, JSON and conversion functions.
pub(crate) const MYSQL: &[&str] = &[
    "abs", "acos", "adddate", "addtime", "any_value", "ascii", "asin", "atan", "atan2", "avg",
    "bin", "bin_to_uuid", "bit_and", "bit_length", "bit_or", "bit_xor", "ceil", "ceiling",
    "char", "char_length", "character_length", "coalesce", "concat", "concat_ws", "conv",
    "convert_tz", "cos", "cot", "count", "crc32", "cume_dist", "curdate", "current_date",
    "current_time", "current_timestamp", "curtime", "date", "date_add", "date_format",
    "date_sub", "datediff", "day", "dayname", "dayofmonth", "dayofweek", "dayofyear", "degrees",
    "dense_rank", "elt", "exp", "export_set", "extract", "field", "find_in_set", "first_value",
    "floor", "format", "from_base64", "from_days", "from_unixtime", "get_format", "greatest",
    "group_concat", "hex", "hour", "if", "ifnull", "inet6_aton", "inet6_ntoa", "inet_aton",
    "inet_ntoa", "insert", "instr", "interval", "is_ipv4", "is_ipv6", "isnull", "json_array",
    "json_array_append", "json_array_insert", "json_arrayagg", "json_contains",
    "json_contains_path", "json_depth", "json_extract", "json_insert", "json_keys",
    "json_length", "json_merge_patch", "json_merge_preserve", "json_object", "json_objectagg",
    "json_overlaps", "json_pretty", "json_quote", "json_remove", "json_replace",
    "json_schema_valid", "json_search", "json_set", "json_table", "json_type", "json_unquote",
    "json_valid", "json_value", "lag", "last_day", "last_value", "lcase", "lead", "least",
    "left", "length", "ln", "localtime", "localtimestamp", "locate", "log", "log10", "log2",
    "lower", "lpad", "ltrim", "make_set", "makedate", "maketime", "max", "md5", "microsecond",
    "mid", "min", "minute", "mod", "month", "monthname", "now", "nth_value", "ntile", "nullif",
    "oct", "octet_length", "ord", "percent_rank", "period_add", "period_diff", "pi", "position",
    "pow", "power", "quarter", "quote", "radians", "rand", "rank", "regexp_instr",
    "regexp_like", "regexp_replace", "regexp_substr", "repeat", "replace", "reverse", "right",
    "round", "row_number", "rpad", "rtrim", "sec_to_time", "second", "sha", "sha1", "sha2",
    "sign", "sin", "soundex", "space", "sqrt", "std", "stddev", "stddev_pop", "stddev_samp",
    "str_to_date", "strcmp", "subdate", "substr", "substring", "substring_index", "subtime",
    "sum", "sysdate", "tan", "time", "time_format", "time_to_sec", "timediff", "timestamp",
    "timestampadd", "timestampdiff", "to_base64", "to_days", "to_seconds", "trim", "truncate",
    "ucase", "unhex", "unix_timestamp", "upper", "utc_date", "utc_time", "utc_timestamp",
    "uuid", "uuid_to_bin", "var_pop", "var_samp", "variance", "week", "weekday", "weekofyear",
    "weight_string", "year", "yearweek",
];

#[cfg(test)]
mod tests {
    use super::*;

    const LISTS: [(&str, &[&str]); 3] = [("POSTGRES", POSTGRES), ("SQLITE", SQLITE), ("MYSQL", MYSQL)];

    #[test]
    fn lists_are_sorted_lowercase_and_unique() {
        for (name, list) in LISTS {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "{name} is not sorted");
            for f in list {
                assert!(
                    f.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                    "{name}: {f}"
                );
            }
        }
    }

    /// A regression oracle, not the guard: side effects that must never be on a list.
    #[test]
    fn no_side_effecting_function_is_listed() {
        let never = [
            "pg_sleep", "pg_sleep_for", "pg_sleep_until", "sleep", "benchmark", "get_lock",
            "release_lock", "is_free_lock", "master_pos_wait", "source_pos_wait", "load_file",
            "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "lo_import",
            "lo_export", "lo_put", "dblink", "dblink_exec", "query_to_xml", "cursor_to_xml",
            "ts_stat", "pg_notify", "pg_advisory_lock", "pg_try_advisory_lock", "nextval",
            "setval", "currval", "lastval", "txid_current", "pg_current_xact_id",
            "pg_export_snapshot", "pg_create_logical_replication_slot", "pg_backup_start",
            "pg_switch_wal", "set_config", "current_setting", "setseed", "pg_reload_conf",
            "pg_terminate_backend", "pg_cancel_backend", "load_extension", "readfile",
            "writefile", "edit", "fsdir", "zipfile", "changes", "last_insert_rowid",
            "last_insert_id", "sys_exec", "xp_cmdshell", "read_csv",
        ];
        for (name, list) in LISTS {
            for f in never {
                assert!(list.binary_search(&f).is_err(), "{name} lists {f}");
            }
        }
    }
}
