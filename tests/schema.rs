//! What the model sees in `tools/list` is exactly what rmcp produces without us: name,
//! description, annotations, `inputSchema` (with validator's limits) and `outputSchema`.
mod common;
use common::*;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use secure_tool::{SecureInput, SecureServer, Security, ToolError, secure_tool};

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Search {
    /// Free text.
    #[validate(length(min = 1, max = 200))]
    #[secure(plain = "full-text search words, never run as SQL")]
    query: String,
    /// Result count.
    #[validate(range(min = 1, max = 50))]
    limit: u32,
    /// Only these tags.
    #[validate(length(max = 8))]
    tags: Option<Vec<u16>>,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Hits {
    count: u32,
}

macro_rules! servers {
    ($error:ty; $($secure:meta)?) => {
        #[derive(Clone)]
        pub struct Server {
            security: Security,
            tool_router: ToolRouter<Self>,
        }
        impl SecureServer for Server {
            fn security(&self) -> &Security {
                &self.security
            }
        }
        impl Server {
            pub fn new() -> Self {
                Self { security: Security::default(), tool_router: Self::tool_router() }
            }
        }
        #[tool_router]
        impl Server {
            /// Search the index.
            ///
            /// Second paragraph of the description.
            $(#[$secure])?
            #[tool(annotations(read_only_hint = true, open_world_hint = false))]
            async fn search(&self, Parameters(_args): Parameters<Search>) -> Result<Json<Hits>, $error> {
                Ok(Json(Hits { count: 0 }))
            }

            $(#[$secure])?
            #[tool(name = "count-hits", title = "Count", description = "Count hits")]
            fn count(&self, Parameters(_args): Parameters<Search>) -> Json<Hits> {
                Json(Hits { count: 0 })
            }

            $(#[$secure])?
            #[tool(description = "No input")]
            async fn ping(&self) -> String {
                "pong".into()
            }
        }
        #[tool_handler(router = self.tool_router)]
        impl ServerHandler for Server {}
    };
}

mod bare {
    use super::*;
    // rmcp's own error path: a `String` error becomes an error result.
    servers!(String;);
}

mod secured {
    use super::*;
    servers!(ToolError; secure_tool(public, rate = "5/sec"));
}

#[tokio::test]
async fn tools_list_is_identical_to_bare_rmcp() {
    let bare = connect(bare::Server::new())
        .await
        .list_all_tools()
        .await
        .unwrap();
    let secured = connect(secured::Server::new())
        .await
        .list_all_tools()
        .await
        .unwrap();
    assert_eq!(bare.len(), 3);
    let as_json = |t: &Vec<rmcp::model::Tool>| serde_json::to_value(t).unwrap();
    // Identical, but that each secured tool's `_meta` lists the scopes a call needs
    // (none: these tools are public).
    // (none: these tools are public), and that a tool without input says it takes no
    // argument, as the server enforces (issue 22).
    let mut secured = as_json(&secured);
    for tool in secured.as_array_mut().unwrap() {
        let meta = tool.as_object_mut().unwrap().remove("_meta").unwrap();
        assert_eq!(meta, serde_json::json!({"secure-tool/scopes": []}));
        if tool["name"] == "ping" {
            let schema = tool["inputSchema"].as_object_mut().unwrap();
            assert_eq!(schema.remove("additionalProperties"), Some(false.into()));
        }
    }
    assert_eq!(secured, as_json(&bare));
}

#[tokio::test]
async fn validator_limits_are_in_the_input_schema() {
    let tools = connect(secured::Server::new())
        .await
        .list_all_tools()
        .await
        .unwrap();
    let search = tools.iter().find(|t| t.name == "search").unwrap();
    let schema = serde_json::Value::Object((*search.input_schema).clone());
    let props = &schema["properties"];
    assert_eq!(props["query"]["maxLength"], 200);
    assert_eq!(props["query"]["minLength"], 1);
    assert_eq!(props["limit"]["minimum"], 1);
    assert_eq!(props["limit"]["maximum"], 50);
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(
        search.description.as_deref(),
        // rmcp joins doc lines and skips blank ones.
        Some("Search the index.\nSecond paragraph of the description.")
    );
    let output = serde_json::Value::Object((*search.output_schema.clone().unwrap()).clone());
    assert_eq!(output["properties"]["count"]["type"], "integer");
    let count = tools.iter().find(|t| t.name == "count-hits").unwrap();
    assert!(count.output_schema.is_some());
}

#[tokio::test]
async fn structured_output_still_arrives_structured() {
    let client = connect(TestServer::with_scopes(&[])).await;
    for tool in ["stats", "try_stats"] {
        let result = call(
            &client,
            tool,
            serde_json::json!({"text": "a b c", "times": 1}),
        )
        .await;
        assert_eq!(
            result.structured_content,
            Some(serde_json::json!({"words": 3, "chars": 5})),
            "{tool}"
        );
    }
}

#[tokio::test]
async fn a_tool_without_input_refuses_arguments_as_its_schema_says() {
    let client = connect(secured::Server::new()).await;
    let tools = client.list_all_tools().await.unwrap();
    let ping = tools.iter().find(|t| t.name == "ping").unwrap();
    assert_eq!(
        ping.input_schema.get("additionalProperties"),
        Some(&false.into())
    );
    let result = call(&client, "ping", serde_json::json!({"force": true})).await;
    assert_eq!(result.is_error, Some(true), "{result:?}");
    let result = call(&client, "ping", serde_json::json!({})).await;
    assert_ne!(result.is_error, Some(true), "{result:?}");
}
