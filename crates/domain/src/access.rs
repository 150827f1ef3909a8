//! Who may do what in a store's dashboard. Pure rules: the web layer asks, the tests prove.

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// A person's role in one store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Marketer,
    Support,
    AccountManager,
    Viewer,
}

/// Something a page or an action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Overview, customers and orders, read only.
    Read,
    /// Notes and tags on customers.
    EditCustomers,
    /// Give a customer an account manager (or take one on).
    AssignAccountManager,
    /// Download the customer list.
    ExportCustomers,
    /// Upload shop exports and transaction logs.
    Import,
    /// Store settings, API keys and webhook secrets.
    ManageSettings,
    /// Invite people and change their roles.
    ManagePeople,
    /// Set the retention KPIs' targets and enter marketing spend (Analytics).
    SetGoals,
    /// The loyalty program's rules, tiers and rewards catalog.
    ManageLoyalty,
    /// Credit or debit a customer's points by hand (always with a reason; audited).
    AdjustPoints,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Owner,
        Role::Admin,
        Role::Marketer,
        Role::Support,
        Role::AccountManager,
        Role::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Marketer => "marketer",
            Role::Support => "support",
            Role::AccountManager => "account_manager",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Result<Role, FieldError> {
        let wanted = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == wanted)
            .ok_or_else(|| {
                FieldError::new(
                    "role",
                    "invalid_role",
                    format!(
                        "{s:?} is not a role: owner, admin, marketer, support, account_manager or viewer"
                    ),
                )
            })
    }

    pub fn can(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Owner | Role::Admin => true,
            Role::Marketer => matches!(
                permission,
                Read | EditCustomers | ExportCustomers | Import | SetGoals | ManageLoyalty
            ),
            Role::Support => matches!(permission, Read | EditCustomers | AdjustPoints),
            Role::AccountManager => matches!(permission, Read | EditCustomers | AssignAccountManager),
            Role::Viewer => matches!(permission, Read),
        }
    }

    /// Whether someone with this role may give `other` to a person: never a role above one's own.
    pub fn may_grant(self, other: Role) -> bool {
        match self {
            Role::Owner => true,
            Role::Admin => other != Role::Owner,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_leniently_and_name_the_field() {
        assert_eq!(Role::parse("Account manager").unwrap(), Role::AccountManager);
        assert_eq!(Role::parse("account-manager").unwrap(), Role::AccountManager);
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()).unwrap(), role);
        }
        let err = Role::parse("boss").unwrap_err();
        assert_eq!((err.field.as_str(), err.code), ("role", "invalid_role"));
    }

    #[test]
    fn only_owners_and_admins_manage_settings_and_people() {
        for role in Role::ALL {
            let admin = matches!(role, Role::Owner | Role::Admin);
            assert_eq!(role.can(Permission::ManageSettings), admin, "{role:?}");
            assert_eq!(role.can(Permission::ManagePeople), admin, "{role:?}");
            assert!(role.can(Permission::Read));
        }
        assert!(!Role::Viewer.can(Permission::EditCustomers));
        assert!(Role::Marketer.can(Permission::Import));
        assert!(!Role::Support.can(Permission::Import));
        assert!(Role::AccountManager.can(Permission::AssignAccountManager));
        assert!(
            Role::Marketer.can(Permission::ManageLoyalty) && !Role::Marketer.can(Permission::AdjustPoints)
        );
        assert!(Role::Support.can(Permission::AdjustPoints) && !Role::Support.can(Permission::ManageLoyalty));
        assert!(!Role::Viewer.can(Permission::AdjustPoints));
        assert!(!Role::Admin.may_grant(Role::Owner));
        assert!(Role::Owner.may_grant(Role::Owner));
        assert!(!Role::Marketer.may_grant(Role::Viewer));
    }

    #[test]
    fn owners_admins_and_marketers_set_goals() {
        for role in Role::ALL {
            let goals = matches!(role, Role::Owner | Role::Admin | Role::Marketer);
            assert_eq!(role.can(Permission::SetGoals), goals, "{role:?}");
        }
    }
}
