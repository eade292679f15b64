//! Principals and organizations shared by the integration tests and the benches.
#![allow(dead_code, reason = "each test crate uses a different subset")]

use breeze_authz::access::{
    MembershipState, Memberships, OrgAccess, OrgMembership, OrgRecord, PartnerMembership,
    Principal, SiteAccess,
};
use breeze_core::tenancy::{OrgId, OrgStatus, PartnerId, RoleId, UserId};

/// A user with one active partner membership.
pub fn partner_principal(user_id: UserId, partner: PartnerId, org_access: OrgAccess) -> Principal {
    Principal::User {
        user_id,
        memberships: Memberships {
            partner: Some(PartnerMembership {
                partner_id: partner,
                role_id: RoleId::new_random(),
                org_access,
                state: MembershipState::Active,
            }),
            ..Memberships::default()
        },
    }
}

/// A user with one active organization membership.
pub fn org_principal(user_id: UserId, org: OrgId, sites: SiteAccess) -> Principal {
    Principal::User {
        user_id,
        memberships: Memberships {
            organization: Some(OrgMembership {
                org_id: org,
                role_id: RoleId::new_random(),
                sites,
                state: MembershipState::Active,
            }),
            ..Memberships::default()
        },
    }
}

/// A fresh organization of `partner`.
pub fn org_record(partner: PartnerId, status: OrgStatus, deleted: bool) -> OrgRecord {
    OrgRecord {
        id: OrgId::new_random(),
        partner_id: partner,
        status,
        deleted,
    }
}
