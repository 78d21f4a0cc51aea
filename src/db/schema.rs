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
    }
}

diesel::table! {
    agent_api_keys (id) {
        id -> Text,
        agent_id -> Text,
        name -> Text,
        api_key_type -> Text,
        key_digest -> Nullable<Text>,
        secret -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(agent_api_keys -> agents (agent_id));
diesel::allow_tables_to_appear_in_same_query!(agents, agent_api_keys);
