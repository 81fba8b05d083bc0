//! A notes/CRM-style CRUD server, written as a newcomer would after popular MCP servers
//! (contacts with tags and custom fields, search, paging, delete).
use std::collections::BTreeMap;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use secure_tool::{SecureInput, SecureServer, Security, ToolError, secure_tool};

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct NewContact {
    #[validate(length(min = 1, max = 120))]
    name: String,
    #[validate(email, length(max = 254))]
    email: Option<String>,
    #[validate(length(max = 10))]
    #[secure(each(length(max = 40)))]
    tags: Vec<String>,
    /// Free-form fields: each name and value at most 200 characters.
    #[validate(length(max = 20))]
    #[secure(each(length(max = 200)))]
    custom_fields: BTreeMap<String, String>,
    #[validate(length(max = 4000))]
    notes: Option<String>,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct ContactId {
    #[validate(range(min = 1))]
    id: u64,
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
struct Search {
    // The net reads `query` as SQL-like; a search box's words are not.
    #[validate(length(min = 1, max = 200))]
    #[secure(plain = "full-text search words, matched by the search index, never SQL")]
    query: String,
    #[validate(range(min = 1, max = 100))]
    limit: Option<u8>,
    /// The `next_page` of the previous answer.
    #[validate(length(max = 200))]
    page_token: Option<String>,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Page {
    ids: Vec<u64>,
    next_page: Option<String>,
}

#[derive(Clone)]
struct Crm {
    security: Security,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for Crm {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Crm {
    #[secure_tool(scope = "crm.write", rate = "30/min")]
    #[tool(description = "Create a contact")]
    async fn create_contact(&self, Parameters(c): Parameters<NewContact>) -> Result<String, ToolError> {
        Ok(format!("created {} with {} tags", c.name, c.tags.len()))
    }

    #[secure_tool(scope = "crm.read", rate = "120/min", read_only)]
    #[tool(description = "Search contacts")]
    async fn search(&self, Parameters(s): Parameters<Search>) -> Json<Page> {
        let _ = (s.query, s.limit, s.page_token);
        Json(Page { ids: vec![1], next_page: None })
    }

    #[secure_tool(scope = "crm.admin", destructive, rate = "5/min")]
    #[tool(description = "Delete a contact")]
    async fn delete_contact(&self, Parameters(c): Parameters<ContactId>) -> Result<String, ToolError> {
        Ok(format!("deleted {}", c.id))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Crm {}

fn main() {
    let crm = Crm { security: Security::default(), tool_router: Crm::tool_router() };
    assert_eq!(crm.tool_router.list_all().len(), 3);
}
