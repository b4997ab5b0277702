"""The job history in the browser: recipes, jobs and each job's steps, served by `runner serve`."""
