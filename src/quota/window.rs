//! Calendar windows: where the minute, hour, day, week or month that holds an instant starts
//! and ends, on the calendar of a time zone (a daylight-saving day has 23 or 25 hours, a
//! month its own length, a week starts on the configured day). Pure: `now` is an argument.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use crate::config::{Weekday, Window};

/// The calendar a subject's windows follow: a zone and the first day of the week.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub tz: TimeZone,
    pub week_start: Weekday,
}

impl Calendar {
    /// UTC, weeks from Monday.
    pub fn utc() -> Calendar {
        Calendar {
            tz: TimeZone::UTC,
            week_start: Weekday::Monday,
        }
    }

    /// The calendar `[quota]` configures (`timezone`, `week_start`).
    pub fn from_config(q: &crate::config::QuotaConfig) -> Calendar {
        Calendar {
            tz: q.time_zone(),
            week_start: q.week_start,
        }
    }

    /// The window of kind `window` that holds `now_ms` (unix ms): its start and its end
    /// (`resets_at`, the start of the next one), both unix ms, `start <= now_ms < end`.
    ///
    /// Minutes and hours are cut on the zone's wall clock at `now_ms` (so each is 60 minutes
    /// even across a switch: the repeated 01:00 of a fall-back day is two hour windows). Days,
    /// weeks and months run from one civil midnight to the next; a midnight that falls in a
    /// gap starts at the first instant after it. (In a zone whose clock moves by less than an
    /// hour, Lord Howe's 30 minutes, the hour windows on either side of a switch overlap by
    /// the difference; each still holds `now`.)
    ///
    /// `None` only for instants beyond the calendar's range (years past 9999) or in a window
    /// that starts before 1970.
    pub fn bounds(&self, window: Window, now_ms: u64) -> Option<WindowBounds> {
        let now = i64::try_from(now_ms).ok()?;
        let (start, end) = match window {
            Window::Minute => self.wall_clock_cut(now, 60_000)?,
            Window::Hour => self.wall_clock_cut(now, 3_600_000)?,
            Window::Day | Window::Week | Window::Month => self.civil(window, now)?,
        };
        Some(WindowBounds {
            start: u64::try_from(start).ok()?,
            end: u64::try_from(end).ok()?,
        })
    }

    /// `[start, start + len)` holding `now` on the wall clock: the offset in force at `now`
    /// decides where the cut falls (whole-hour zones cut on UTC hours, +05:30 on half hours).
    fn wall_clock_cut(&self, now: i64, len: i64) -> Option<(i64, i64)> {
        let ts = Timestamp::from_millisecond(now).ok()?;
        let offset_ms = i64::from(self.tz.to_offset(ts).seconds()) * 1000;
        let into = (now + offset_ms).rem_euclid(len);
        let start = now - into;
        Some((start, start + len))
    }

    /// Days, weeks and months: civil midnights converted back with jiff's "compatible" rule
    /// (gap: the instant after it; fold: the first occurrence), so `start <= now < end`.
    fn civil(&self, window: Window, now: i64) -> Option<(i64, i64)> {
        let ts = Timestamp::from_millisecond(now).ok()?;
        let date = self.tz.to_datetime(ts).date();
        let (first, next) = match window {
            Window::Week => {
                let back = (date.weekday().to_monday_zero_offset()
                    - self.week_start.monday_offset())
                .rem_euclid(7);
                let first = date.checked_sub(Span::new().days(back)).ok()?;
                (first, first.checked_add(Span::new().days(7)).ok()?)
            }
            Window::Month => {
                let first = date.first_of_month();
                (first, first.checked_add(Span::new().months(1)).ok()?)
            }
            _ => (date, date.checked_add(Span::new().days(1)).ok()?),
        };
        let at = |d: jiff::civil::Date| -> Option<i64> {
            let dt: DateTime = d.at(0, 0, 0, 0);
            Some(self.tz.to_timestamp(dt).ok()?.as_millisecond())
        };
        Some((at(first)?, at(next)?))
    }
}

/// A window's extent in unix ms: `[start, end)`; `end` is the `resets_at` of replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowBounds {
    pub start: u64,
    pub end: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix ms of a civil time in `zone` (test helper; the zone's compatible rule).
    fn ms(zone: &str, y: i16, mo: i8, d: i8, h: i8) -> u64 {
        let tz = TimeZone::get(zone).unwrap();
        let dt = jiff::civil::date(y, mo, d).at(h, 0, 0, 0);
        u64::try_from(tz.to_timestamp(dt).unwrap().as_millisecond()).unwrap()
    }

    /// Unix ms of a UTC instant given as RFC 3339 text.
    fn utc(s: &str) -> u64 {
        let ts: Timestamp = s.parse().unwrap();
        u64::try_from(ts.as_millisecond()).unwrap()
    }

    fn cal(zone: &str, week_start: Weekday) -> Calendar {
        Calendar {
            tz: TimeZone::get(zone).unwrap(),
            week_start,
        }
    }

    const NY: &str = "America/New_York";
    const HOUR: u64 = 3_600_000;

    /// (zone, week start, window, now, expected start, expected end), all instants as UTC
    /// RFC 3339 so the table reads like a calendar.
    #[test]
    #[rustfmt::skip]
    fn windows_follow_the_zones_calendar() {
        use Weekday::*;
        use Window::*;
        let cases: &[(&str, Weekday, Window, &str, &str, &str)] = &[
            // UTC, plain boundaries.
            ("UTC", Monday, Minute, "2026-03-04T10:15:42.123Z", "2026-03-04T10:15:00Z", "2026-03-04T10:16:00Z"),
            ("UTC", Monday, Hour, "2026-03-04T10:15:42.123Z", "2026-03-04T10:00:00Z", "2026-03-04T11:00:00Z"),
            ("UTC", Monday, Day, "2026-03-04T10:15:42.123Z", "2026-03-04T00:00:00Z", "2026-03-05T00:00:00Z"),
            // 2026-03-04 is a Wednesday.
            ("UTC", Monday, Week, "2026-03-04T10:15:42.123Z", "2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z"),
            ("UTC", Sunday, Week, "2026-03-04T10:15:42.123Z", "2026-03-01T00:00:00Z", "2026-03-08T00:00:00Z"),
            ("UTC", Wednesday, Week, "2026-03-04T10:15:42.123Z", "2026-03-04T00:00:00Z", "2026-03-11T00:00:00Z"),
            ("UTC", Thursday, Week, "2026-03-04T10:15:42.123Z", "2026-02-26T00:00:00Z", "2026-03-05T00:00:00Z"),
            ("UTC", Monday, Month, "2026-03-04T10:15:42.123Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"),
            // The instant exactly at a boundary belongs to the window it starts.
            ("UTC", Monday, Minute, "2026-03-04T10:16:00Z", "2026-03-04T10:16:00Z", "2026-03-04T10:17:00Z"),
            ("UTC", Monday, Day, "2026-03-05T00:00:00Z", "2026-03-05T00:00:00Z", "2026-03-06T00:00:00Z"),
            ("UTC", Monday, Month, "2026-04-01T00:00:00Z", "2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z"),
            // ... and the last ms before it to the one it ends.
            ("UTC", Monday, Day, "2026-03-04T23:59:59.999Z", "2026-03-04T00:00:00Z", "2026-03-05T00:00:00Z"),
            ("UTC", Monday, Month, "2026-03-31T23:59:59.999Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"),
            // Month lengths, Feb 29 of a leap year, the year's end.
            ("UTC", Monday, Month, "2026-02-14T00:00:00Z", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"),
            ("UTC", Monday, Month, "2028-02-29T12:00:00Z", "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z"),
            ("UTC", Monday, Day, "2028-02-29T12:00:00Z", "2028-02-29T00:00:00Z", "2028-03-01T00:00:00Z"),
            ("UTC", Monday, Day, "2028-02-28T23:59:59.999Z", "2028-02-28T00:00:00Z", "2028-02-29T00:00:00Z"),
            ("UTC", Monday, Month, "2026-04-30T08:00:00Z", "2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z"),
            ("UTC", Monday, Month, "2026-12-31T23:59:59.999Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            ("UTC", Monday, Week, "2026-12-31T12:00:00Z", "2026-12-28T00:00:00Z", "2027-01-04T00:00:00Z"),
            // New York, an ordinary day: midnight is 05:00Z in winter, 04:00Z in summer.
            (NY, Monday, Day, "2026-01-15T04:59:59.999Z", "2026-01-14T05:00:00Z", "2026-01-15T05:00:00Z"),
            (NY, Monday, Day, "2026-01-15T05:00:00Z", "2026-01-15T05:00:00Z", "2026-01-16T05:00:00Z"),
            (NY, Monday, Hour, "2026-01-15T05:30:00Z", "2026-01-15T05:00:00Z", "2026-01-15T06:00:00Z"),
            // Spring forward, Sunday 2026-03-08 02:00 EST -> 03:00 EDT: a 23-hour day.
            (NY, Monday, Day, "2026-03-08T12:00:00Z", "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z"),
            (NY, Monday, Hour, "2026-03-08T06:59:59.999Z", "2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"),
            (NY, Monday, Hour, "2026-03-08T07:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"),
            // The week holding the switch (Mon Mar 2 .. Mon Mar 9) is 7 × 24 − 1 hours.
            (NY, Monday, Week, "2026-03-08T12:00:00Z", "2026-03-02T05:00:00Z", "2026-03-09T04:00:00Z"),
            (NY, Sunday, Week, "2026-03-08T12:00:00Z", "2026-03-08T05:00:00Z", "2026-03-15T04:00:00Z"),
            (NY, Monday, Month, "2026-03-08T12:00:00Z", "2026-03-01T05:00:00Z", "2026-04-01T04:00:00Z"),
            // Fall back, Sunday 2026-11-01 02:00 EDT -> 01:00 EST: a 25-hour day.
            (NY, Monday, Day, "2026-11-01T12:00:00Z", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"),
            // 01:30 happens twice: each is its own 60-minute hour window.
            (NY, Monday, Hour, "2026-11-01T05:30:00Z", "2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z"),
            (NY, Monday, Hour, "2026-11-01T06:30:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z"),
            (NY, Monday, Minute, "2026-11-01T06:00:30Z", "2026-11-01T06:00:00Z", "2026-11-01T06:01:00Z"),
            (NY, Monday, Month, "2026-11-01T12:00:00Z", "2026-11-01T04:00:00Z", "2026-12-01T05:00:00Z"),
            (NY, Monday, Month, "2026-10-31T12:00:00Z", "2026-10-01T04:00:00Z", "2026-11-01T04:00:00Z"),
            // Feb 29 in New York.
            (NY, Monday, Day, "2028-03-01T04:59:59.999Z", "2028-02-29T05:00:00Z", "2028-03-01T05:00:00Z"),
            // A half-hour zone cuts hours at :30 UTC.
            ("Asia/Kolkata", Monday, Hour, "2026-03-04T10:15:00Z", "2026-03-04T09:30:00Z", "2026-03-04T10:30:00Z"),
            ("Asia/Kolkata", Monday, Day, "2026-03-04T10:15:00Z", "2026-03-03T18:30:00Z", "2026-03-04T18:30:00Z"),
        ];
        for &(zone, ws, window, now, start, end) in cases {
            let got = cal(zone, ws).bounds(window, utc(now)).unwrap();
            let want = WindowBounds {
                start: utc(start),
                end: utc(end),
            };
            assert_eq!(got, want, "{zone} {ws} {window} at {now}");
        }
    }

    /// The switch days' lengths, from the zone's own calendar.
    #[test]
    fn daylight_saving_days_have_23_and_25_hours() {
        let ny = cal(NY, Weekday::Monday);
        let spring = ny.bounds(Window::Day, ms(NY, 2026, 3, 8, 12)).unwrap();
        assert_eq!(spring.end - spring.start, 23 * HOUR);
        let fall = ny.bounds(Window::Day, ms(NY, 2026, 11, 1, 12)).unwrap();
        assert_eq!(fall.end - fall.start, 25 * HOUR);
        let week = ny.bounds(Window::Week, ms(NY, 2026, 11, 1, 12)).unwrap();
        assert_eq!(week.end - week.start, (7 * 24 + 1) * HOUR);
        // resets_at is exact to the ms: the next civil midnight, not now + 24 h.
        assert_eq!(spring.end, ms(NY, 2026, 3, 9, 0));
        assert_eq!(fall.end, ms(NY, 2026, 11, 2, 0));
    }

    /// Every window holds `now`, and the window starting at `end` follows without a gap, for
    /// instants spread over four years in zones with and without daylight saving.
    #[test]
    fn windows_hold_now_and_tile_the_timeline() {
        let zones = [
            "UTC",
            NY,
            "Europe/Paris",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
        ];
        let from = utc("2026-01-01T00:00:00Z");
        // 997 steps of a prime number of ms, about 4 years in all.
        let step = 126_482_291_u64;
        for zone in zones {
            let c = cal(zone, Weekday::Thursday);
            for i in 0..997u64 {
                let now = from + i * step;
                for w in Window::ALL {
                    let b = c.bounds(w, now).unwrap();
                    assert!(b.start <= now && now < b.end, "{zone} {w} {now}: {b:?}");
                    // Lord Howe moves its clock by 30 minutes: around that switch the wall
                    // clock's minute and hour cuts move with it, so consecutive hour windows
                    // overlap by half an hour there (documented on `bounds`).
                    if zone == "Australia/Lord_Howe" && matches!(w, Window::Hour) {
                        continue;
                    }
                    let next = c.bounds(w, b.end).unwrap();
                    assert_eq!(next.start, b.end, "{zone} {w} {now}");
                }
            }
        }
    }

    #[test]
    fn far_instants_are_none_not_a_panic() {
        let c = Calendar::utc();
        for w in Window::ALL {
            assert!(c.bounds(w, u64::MAX).is_none());
            assert!(c.bounds(w, 400_000_000_000_000).is_none());
            assert!(c.bounds(w, 1_000_000_000_000).is_some());
        }
    }
}
