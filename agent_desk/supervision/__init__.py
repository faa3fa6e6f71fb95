"""What supervisors and leaders see: live wallboard, KPIs and reports, early warning."""
