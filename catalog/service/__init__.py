"""The service: the questions every face asks (resolve, check, plan, search), composed from the core."""
