// Portable across SQLite and PostgreSQL; kept in step with migrations/.

diesel::table! {
    agents (id) {
        id -> Text,
        name -> Text,
        description -> Nullable<Text>,
        acp_url -> Nullable<Text>,
        acp_type -> Text,
        status -> Text,
        status_reason -> Nullable<Text>,
        registration_metadata -> Nullable<Text>,
        agent_input_type -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        registered_at -> Nullable<Timestamp>,
        deliveries_paused_at -> Nullable<Timestamp>,
        account_id -> Nullable<Text>,
        identities -> Nullable<Text>,
        protocol -> Text,
        agent_card_url -> Nullable<Text>,
        a2a_url -> Nullable<Text>,
        a2a_version -> Nullable<Text>,
        card_read_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    accounts (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    account_api_keys (id) {
        id -> Text,
        account_id -> Text,
        key_digest -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    agent_api_keys (id) {
        id -> Text,
        agent_id -> Text,
        name -> Text,
        api_key_type -> Text,
        created_at -> Timestamp,
        config -> Nullable<Text>,
    }
}

diesel::table! {
    agent_key_versions (id) {
        id -> Text,
        key_id -> Text,
        agent_id -> Text,
        api_key_type -> Text,
        key_digest -> Nullable<Text>,
        secret -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    agent_routes (id) {
        id -> Text,
        agent_id -> Text,
        path -> Text,
        mode -> Text,
        task_key -> Nullable<Text>,
        content -> Text,
        text_template -> Nullable<Text>,
        created_at -> Timestamp,
        filter_conditions -> Nullable<Text>,
        ignore_conditions -> Nullable<Text>,
        redact_fields -> Nullable<Text>,
        shadow_agent_id -> Nullable<Text>,
        loop_limit -> Nullable<Integer>,
        loop_window_secs -> Nullable<Integer>,
        coalesce_window_ms -> Nullable<Integer>,
        coalesce_max_wait_ms -> Nullable<Integer>,
        missing_task_key -> Nullable<Text>,
    }
}

diesel::table! {
    agent_tasks (id) {
        id -> Text,
        agent_id -> Text,
        name -> Text,
        last_sequence -> BigInt,
        created_on_agent_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        head_sequence -> Nullable<BigInt>,
        held_since -> Nullable<Timestamp>,
    }
}

diesel::table! {
    deliveries (id) {
        id -> Text,
        agent_id -> Text,
        route_id -> Nullable<Text>,
        mode -> Text,
        task_id -> Nullable<Text>,
        sequence_id -> Nullable<BigInt>,
        dedup_key -> Nullable<Text>,
        method -> Text,
        path -> Text,
        headers -> Text,
        body -> Binary,
        content -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
        budget_base -> Integer,
    }
}

diesel::table! {
    delivery_lanes (id) {
        id -> Text,
        agent_id -> Text,
        head_id -> Text,
        due_at -> Timestamp,
        claim_token -> Nullable<Text>,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    delivery_dedup (agent_id, dedup_key) {
        agent_id -> Text,
        dedup_key -> Text,
        delivery_id -> Text,
        task_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    delivery_attempts (id) {
        id -> Text,
        delivery_id -> Text,
        attempt -> Integer,
        started_at -> Timestamp,
        finished_at -> Timestamp,
        outcome -> Text,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
        instance -> Nullable<Text>,
        response -> Nullable<Text>,
    }
}

diesel::table! {
    replays (id) {
        id -> Text,
        from_agent_id -> Text,
        to_agent_id -> Text,
        route_id -> Nullable<Text>,
        since -> Timestamp,
        until -> Timestamp,
        total -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    replay_items (replay_id, position) {
        replay_id -> Text,
        position -> BigInt,
        original_id -> Text,
        replayed_id -> Text,
    }
}

diesel::table! {
    hookgate_keyring (id) {
        id -> Text,
        wrapped_key -> Text,
        created_at -> Timestamp,
        rewrapped_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(agent_api_keys -> agents (agent_id));
diesel::joinable!(account_api_keys -> accounts (account_id));
diesel::joinable!(agents -> accounts (account_id));
diesel::joinable!(agent_key_versions -> agent_api_keys (key_id));
diesel::joinable!(agent_routes -> agents (agent_id));
diesel::joinable!(deliveries -> agents (agent_id));
diesel::joinable!(delivery_attempts -> deliveries (delivery_id));
diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    account_api_keys,
    agents,
    agent_api_keys,
    agent_key_versions,
    hookgate_keyring,
    agent_routes,
    agent_tasks,
    deliveries,
    delivery_attempts,
    delivery_dedup,
    delivery_lanes,
    replays,
    replay_items,
);
