-- Telehealth at the ward health station (trạm y tế phường): the directory (stations, doctors), weekly
-- availability and leave, booked appointments, the waiting room and consultations (encounters),
-- consent, clinical records and the audit trail of every access to them.
-- Shaped after FHIR (Schedule/Slot, Appointment, Encounter class VR, Consent, MedicationRequest) so the
-- records can be exported later. Slots are computed from availability, never stored.

-- Where residents find the station and when it is open (OpenStreetMap `opening_hours` syntax).
ALTER TABLE stations ADD COLUMN phone TEXT NOT NULL DEFAULT '';
ALTER TABLE stations ADD COLUMN lat DOUBLE PRECISION;
ALTER TABLE stations ADD COLUMN lon DOUBLE PRECISION;
ALTER TABLE stations ADD COLUMN opening_hours TEXT NOT NULL DEFAULT '';

-- What residents see about a doctor. `hospital` is set for visiting specialists from a city hospital.
CREATE TABLE doctor_profiles (
    account_id  UUID PRIMARY KEY REFERENCES accounts (account_id) ON DELETE CASCADE,
    title       TEXT NOT NULL DEFAULT '',
    specialty   TEXT NOT NULL DEFAULT '',
    hospital    TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- A doctor's weekly hours at a station, in the ward's local time (FHIR Schedule). Windows of one
-- doctor never overlap (checked when they are saved), so a start time names at most one slot.
CREATE TABLE availability (
    availability_id  UUID PRIMARY KEY,
    doctor_id        UUID NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    station_id       UUID NOT NULL REFERENCES stations (station_id) ON DELETE CASCADE,
    -- ISO weekday: 1 = Monday … 7 = Sunday.
    weekday          INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    start_minute     INTEGER NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
    end_minute       INTEGER NOT NULL CHECK (end_minute BETWEEN 1 AND 1440),
    slot_minutes     INTEGER NOT NULL CHECK (slot_minutes BETWEEN 5 AND 120),
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    CHECK (end_minute > start_minute)
);
CREATE INDEX availability_doctor_idx ON availability (doctor_id, weekday);
CREATE INDEX availability_station_idx ON availability (station_id, weekday);

-- Days a doctor takes no bookings (leave, training): exceptions to the weekly hours.
CREATE TABLE leave_days (
    doctor_id   UUID NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    day         DATE NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (doctor_id, day)
);

-- A booked slot (FHIR Appointment). booked → checked_in → fulfilled, or cancelled / noshow.
CREATE TABLE appointments (
    appointment_id   UUID PRIMARY KEY,
    resident_id      UUID NOT NULL REFERENCES accounts (account_id),
    doctor_id        UUID NOT NULL REFERENCES accounts (account_id),
    station_id       UUID NOT NULL REFERENCES stations (station_id),
    starts_at        TIMESTAMPTZ NOT NULL,
    ends_at          TIMESTAMPTZ NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('booked', 'checked_in', 'fulfilled', 'cancelled', 'noshow')),
    reason           TEXT NOT NULL,
    symptom          TEXT,
    cancelled_by     UUID REFERENCES accounts (account_id),
    cancel_reason    TEXT,
    reminded_24h_at  TIMESTAMPTZ,
    reminded_15m_at  TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
-- No double booking, ever: one live appointment per doctor and start time, enforced by the database.
CREATE UNIQUE INDEX appointments_slot_key ON appointments (doctor_id, starts_at) WHERE status <> 'cancelled';
CREATE INDEX appointments_resident_idx ON appointments (resident_id, starts_at);
CREATE INDEX appointments_due_idx ON appointments (status, starts_at);

-- Doctors taking on-demand patients now; feeds the waiting-time estimate.
CREATE TABLE doctor_duty (
    doctor_id   UUID PRIMARY KEY REFERENCES accounts (account_id) ON DELETE CASCADE,
    station_id  UUID NOT NULL REFERENCES stations (station_id) ON DELETE CASCADE,
    since       TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- A consultation (FHIR Encounter, class VR): the waiting room entry and the call it becomes.
-- waiting → admitted → in_call → ended, or missed / cancelled / declined.
CREATE TABLE consultations (
    consultation_id  UUID PRIMARY KEY,
    station_id       UUID NOT NULL REFERENCES stations (station_id),
    resident_id      UUID NOT NULL REFERENCES accounts (account_id),
    -- The doctor who admitted (or, while waiting, the one it is meant for: a booking or a transfer).
    doctor_id        UUID REFERENCES accounts (account_id),
    appointment_id   UUID REFERENCES appointments (appointment_id),
    status           TEXT NOT NULL CHECK (status IN ('waiting', 'admitted', 'in_call', 'ended', 'missed', 'cancelled', 'declined')),
    reason           TEXT NOT NULL,
    symptom          TEXT,
    -- Queue order: when the resident joined, or the booked time for a check-in.
    priority_at      TIMESTAMPTZ NOT NULL,
    queued_at        TIMESTAMPTZ NOT NULL,
    admitted_at      TIMESTAMPTZ,
    -- An admitted resident who has not connected by then has missed the call.
    answer_by        TIMESTAMPTZ,
    call_started_at  TIMESTAMPTZ,
    ended_at         TIMESTAMPTZ,
    end_reason       TEXT,
    rating           INTEGER CHECK (rating BETWEEN 1 AND 5),
    rating_comment   TEXT,
    rated_at         TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
-- One live consultation per resident.
CREATE UNIQUE INDEX consultations_active_resident_key ON consultations (resident_id)
    WHERE status IN ('waiting', 'admitted', 'in_call');
CREATE INDEX consultations_queue_idx ON consultations (station_id, status, priority_at);
CREATE INDEX consultations_resident_idx ON consultations (resident_id, created_at);
CREATE INDEX consultations_due_idx ON consultations (status, answer_by);

-- The doctors in a consultation: the one who admitted and invited specialists.
CREATE TABLE consultation_doctors (
    consultation_id  UUID NOT NULL REFERENCES consultations (consultation_id) ON DELETE CASCADE,
    doctor_id        UUID NOT NULL REFERENCES accounts (account_id),
    role             TEXT NOT NULL CHECK (role IN ('primary', 'specialist')),
    invited_by       UUID REFERENCES accounts (account_id),
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (consultation_id, doctor_id)
);
CREATE INDEX consultation_doctors_doctor_idx ON consultation_doctors (doctor_id, created_at);

-- Consent decisions (FHIR Consent), append-only: the latest row per account and kind holds.
CREATE TABLE consents (
    consent_id  UUID PRIMARY KEY,
    account_id  UUID NOT NULL REFERENCES accounts (account_id),
    kind        TEXT NOT NULL CHECK (kind IN ('telehealth', 'recording')),
    version     TEXT NOT NULL,
    accepted    BOOLEAN NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX consents_account_idx ON consents (account_id, kind, created_at);

-- Clinical records: SOAP notes, ICD-10 diagnoses and prescription items (FHIR MedicationRequest)
-- as JSON lists, one chain of versions per consultation and author. Signed versions never change;
-- an amendment is a new version that supersedes the last.
CREATE TABLE clinical_records (
    record_id          UUID PRIMARY KEY,
    consultation_id    UUID NOT NULL REFERENCES consultations (consultation_id),
    resident_id        UUID NOT NULL REFERENCES accounts (account_id),
    author_id          UUID NOT NULL REFERENCES accounts (account_id),
    version            INTEGER NOT NULL CHECK (version >= 1),
    supersedes         UUID REFERENCES clinical_records (record_id),
    status             TEXT NOT NULL CHECK (status IN ('draft', 'signed')),
    subjective         TEXT NOT NULL DEFAULT '',
    objective          TEXT NOT NULL DEFAULT '',
    assessment         TEXT NOT NULL DEFAULT '',
    plan               TEXT NOT NULL DEFAULT '',
    diagnoses          TEXT NOT NULL DEFAULT '[]',
    prescriptions      TEXT NOT NULL DEFAULT '[]',
    follow_up_on       DATE,
    in_person_advised  BOOLEAN NOT NULL DEFAULT FALSE,
    signed_at          TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX clinical_records_version_key ON clinical_records (consultation_id, author_id, version);
-- A version is amended at most once: the history is a line, not a tree.
CREATE UNIQUE INDEX clinical_records_supersedes_key ON clinical_records (supersedes);
CREATE INDEX clinical_records_resident_idx ON clinical_records (resident_id, created_at);

-- The database itself refuses to change or delete a signed record.
CREATE FUNCTION clinical_records_guard() RETURNS trigger AS $$
BEGIN
    IF OLD.status = 'signed' THEN
        RAISE EXCEPTION 'signed clinical records are immutable';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER clinical_records_immutable BEFORE UPDATE OR DELETE ON clinical_records
    FOR EACH ROW EXECUTE FUNCTION clinical_records_guard();

-- Every read and write of clinical data: who, what, when and why. Append-only.
CREATE TABLE record_access (
    access_id        UUID PRIMARY KEY,
    -- Whose data was touched.
    resident_id      UUID NOT NULL REFERENCES accounts (account_id),
    actor_id         UUID NOT NULL REFERENCES accounts (account_id),
    actor_role       TEXT NOT NULL,
    action           TEXT NOT NULL,
    record_id        UUID REFERENCES clinical_records (record_id),
    consultation_id  UUID REFERENCES consultations (consultation_id),
    purpose          TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX record_access_resident_idx ON record_access (resident_id, created_at);

CREATE FUNCTION record_access_guard() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the record access log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER record_access_append_only BEFORE UPDATE OR DELETE ON record_access
    FOR EACH ROW EXECUTE FUNCTION record_access_guard();

-- The notifications inbox also carries appointment and consultation news.
ALTER TABLE notifications ADD COLUMN appointment_id UUID REFERENCES appointments (appointment_id) ON DELETE CASCADE;
ALTER TABLE notifications ADD COLUMN consultation_id UUID REFERENCES consultations (consultation_id) ON DELETE CASCADE;
