app-name = Regulars
app-tagline = Turn one-time buyers into regulars

nav-overview = Overview
nav-customers = Customers
nav-orders = Orders
nav-import = Import
nav-settings = Settings
nav-language = Language
nav-store = Store
nav-signed-in-as = Signed in as { $email }
nav-logout = Log out

login-title = Sign in
login-email = Email
login-password = Password
login-submit = Sign in
login-failed = That email and password do not match.
login-throttled = Too many attempts. Try again in { $seconds } seconds.
login-logged-out = You have been signed out.

role-owner = Owner
role-admin = Admin
role-marketer = Marketer
role-support = Support agent
role-account_manager = Account manager
role-viewer = Viewer

overview-title = Overview
overview-period = Last { $days } days
overview-orders = Orders
overview-revenue = Revenue
overview-customers = Customers
overview-new-customers = New customers
overview-returning-customers = Returning customers
overview-day = Day
overview-repeat-rate = Repeat-purchase rate

error-forbidden = You do not have access to this page.
error-not-found = Nothing here.
error-csrf = This form has expired. Reload the page and try again.

login-link-spent = This sign-in link has expired or was already used. Sign in with your password.
account-title = Your account
account-current = Current password
account-new = New password
account-repeat = New password again
account-submit = Change password
account-changed = Your password has changed. Other devices have been signed out.
account-mismatch = The two new passwords differ.
account-wrong-current = The current password is not right.
account-too-short = A password needs at least { $chars } characters.
