"""Post-project debriefs: a project, its prompts, reminders and close (``service``), and when
each falls due where the lead is (``schedule``)."""
