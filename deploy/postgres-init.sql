-- One database per service (DESIGN.md rule 1). Run once by the postgres image on an empty
-- data directory (/docker-entrypoint-initdb.d/), as POSTGRES_USER, which owns them.
-- Each service creates its own tables at startup.
CREATE DATABASE directory;
CREATE DATABASE referral;
CREATE DATABASE evaluation;
CREATE DATABASE notify;
