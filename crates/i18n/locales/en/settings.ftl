# Settings: store, API keys, webhook secrets, people.
settings-currency = Currency
settings-timezone = Time zone
settings-locale = Default language
settings-webhooks = Shop webhooks
settings-webhooks-help = Paste these addresses into your shop's admin, behind this server's public address.
settings-people = People
settings-role = Role
