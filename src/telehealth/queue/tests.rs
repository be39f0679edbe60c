use super::*;
use ConsultationStatus as S;

#[test]
fn the_lifecycle_allows_only_its_steps() {
    assert_eq!(next(S::Waiting, Event::Admit), Some(S::Admitted));
    assert_eq!(next(S::Admitted, Event::Connect), Some(S::InCall));
    assert_eq!(next(S::InCall, Event::End), Some(S::Ended));
    assert_eq!(next(S::Admitted, Event::Miss), Some(S::Missed));
    assert_eq!(next(S::Admitted, Event::Requeue), Some(S::Waiting));
    assert_eq!(next(S::Waiting, Event::Decline), Some(S::Declined));
    assert_eq!(next(S::Waiting, Event::Connect), None);
    assert_eq!(next(S::Waiting, Event::End), None);
    assert_eq!(next(S::Ended, Event::Admit), None);
    assert_eq!(next(S::InCall, Event::Cancel), None);
    assert_eq!(next(S::Missed, Event::Requeue), None);
    for s in [S::Ended, S::Missed, S::Cancelled, S::Declined] {
        assert!(!s.is_live());
        assert_eq!(ConsultationStatus::parse(s.as_str()), Some(s));
    }
}

#[test]
fn the_estimate_shares_the_queue_among_doctors_on_duty() {
    assert_eq!(estimate_minutes(1, 10.0, 0), 10);
    assert_eq!(estimate_minutes(3, 10.0, 2), 15);
    assert_eq!(estimate_minutes(4, 7.5, 1), 30);
}
