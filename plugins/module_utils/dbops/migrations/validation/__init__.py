"""validate: rules of migration.yml, database-neutral: the rule records, their parsing, results and evaluation."""
