# The customer directory and profile.
