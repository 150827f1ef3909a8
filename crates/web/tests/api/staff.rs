//! A staff member's browser at the HTTP level: cookies kept by hand, forms posted with their
//! CSRF token, for the dashboard's tests.

use regulars_domain::{Email, Role};

use crate::helpers::TestApp;

pub const PASSWORD: &str = "a long and honest passphrase";

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of a Set-Cookie header, and the whole header.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> Option<(String, String)> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let pair = v.split(';').next().unwrap().to_string();
            (pair, v.to_string())
        })
}

pub fn hidden_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + "name=\"csrf\" value=\"".len();
    html[at..at + 64].to_string()
}

pub struct Browser {
    pub client: reqwest::Client,
    pub cookies: Vec<String>,
}

impl Browser {
    pub fn new() -> Browser {
        Browser {
            client: no_redirects(),
            cookies: Vec::new(),
        }
    }

    pub fn remember(&mut self, response: &reqwest::Response, name: &str) {
        if let Some((pair, _)) = set_cookie(response, name) {
            self.cookies.retain(|c| !c.starts_with(&format!("{name}=")));
            self.cookies.push(pair);
        }
    }

    pub async fn get(&self, app: &TestApp, path: &str) -> reqwest::Response {
        self.client
            .get(app.url(path))
            .header("cookie", self.cookies.join("; "))
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(app.url(path))
            .header("cookie", self.cookies.join("; "))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Signs in through the real form; returns the session's CSRF token from the next page.
    pub async fn sign_in(&mut self, app: &TestApp, email: &str) -> String {
        let form = self.get(app, "/login").await;
        self.remember(&form, "regulars_login_csrf");
        let csrf = hidden_csrf(&form.text().await.unwrap());
        let r = self
            .post(
                app,
                "/login",
                &[("email", email), ("password", PASSWORD), ("csrf", &csrf)],
            )
            .await;
        assert_eq!(r.status(), 303, "signed in and sent on");
        self.remember(&r, "regulars_session");
        let page = self.get(app, &format!("/app/{}", app.store.id)).await;
        assert_eq!(page.status(), 200);
        hidden_csrf(&page.text().await.unwrap())
    }
}

pub async fn person(app: &TestApp, email: &str, role: Role) {
    let user = app
        .db
        .create_user(&Email::parse(email).unwrap(), PASSWORD, None)
        .await
        .unwrap();
    app.db.set_membership(app.store.id, user.id, role).await.unwrap();
}
