"""The playbooks a fresh install ships with (DOMAIN.md, "Playbooks"): a customer default, a
key customer about to churn, a complaint surge. Each is triggered by built-in rules (named
by their keys, resolved to ids when seeded) and carries the events its drill sends."""

from __future__ import annotations

from typing import Any

BUILTIN_PLAYBOOKS: tuple[dict[str, Any], ...] = (
    {"key": "customer-default", "name": "Customer default",
     "description": "A customer defaulted, an invoice was written off or arrears passed "
                    "90 days: stop the exposure growing, tell the owner, collect.",
     "rule_keys": ("defaulted", "written-off", "dpd-90"),
     "steps": (
         {"title": "Freeze new credit", "owner_role": "credit_controller",
          "due_within_minutes": 60,
          "instructions": "Set the customer's open credit to zero in the ERP and hold "
                          "unshipped orders; note the exposure frozen."},
         {"title": "Notify the account owner", "owner_role": "account_owner",
          "due_within_minutes": 120,
          "instructions": "Tell the account owner what happened and what is frozen; agree "
                          "who speaks to the customer."},
         {"title": "Start collection", "owner_role": "collections",
          "due_within_minutes": 1440,
          "instructions": "Open a collection case for every overdue invoice, send the "
                          "formal notice, and record the amounts at stake."},
     ),
     "drill_events": ({"type": "customer.defaulted", "data": {"reason": "drill"}},)},
    {"key": "churn-risk", "name": "Churn risk",
     "description": "A key customer is leaving: reach them before the decision is final.",
     "rule_keys": ("churned",),
     "steps": (
         {"title": "Call the customer", "owner_role": "account_owner",
          "due_within_minutes": 1440,
          "instructions": "Call the decision maker, ask why, and write down what would "
                          "keep them."},
         {"title": "Offer retention", "owner_role": "sales_lead",
          "due_within_minutes": 4320,
          "instructions": "Make the retention offer agreed with the sales lead (terms, "
                          "price, service) and record the answer."},
     ),
     "drill_events": ({"type": "customer.churned", "data": {"reason": "drill"}},)},
    {"key": "complaint-surge", "name": "Complaint surge",
     "description": "Complaints pile up for one customer: escalate, then find the cause.",
     "rule_keys": ("complaints-surge",),
     "steps": (
         {"title": "Escalate to the service lead", "owner_role": "service_lead",
          "due_within_minutes": 240,
          "instructions": "Hand the open complaints to the service lead with their "
                          "history; the lead contacts the customer."},
         {"title": "Find the root cause", "owner_role": "service_lead",
          "due_within_minutes": 4320,
          "instructions": "Find what the complaints have in common, fix it or plan the "
                          "fix, and write the cause down."},
     ),
     "drill_events": tuple({"type": "complaint.opened",
                            "data": {"complaint_id": f"drill-{n}", "severity": "high"}}
                           for n in (1, 2, 3))},
)
