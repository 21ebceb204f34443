use {
    crate::{accounts::view_wrapper_traits, AccountInitialize, AnchorAccount, ForeignOwnerInit},
    pinocchio::{account::AccountView, address::Address},
    solana_program_error::ProgramError,
};

/// Escape hatch account wrapper with no owner/layout/discriminator validation.
///
/// Because the wrapper provides no lifecycle guarantees, it intentionally
/// does not implement [`crate::AccountClose`], so Anchor's generic
/// `#[account(close = ...)]` path (and manual close) will not compile
/// against it.
pub struct UncheckedAccount {
    view: AccountView,
}

impl UncheckedAccount {
    /// Returns the account's address.
    #[inline(always)]
    pub fn address(&self) -> &Address {
        self.view.address()
    }
}

impl AnchorAccount for UncheckedAccount {
    type Data = AccountView;
    #[inline(always)]
    fn load(view: AccountView) -> Result<Self, ProgramError> {
        Ok(Self { view })
    }
    #[inline(always)]
    fn account(&self) -> &AccountView {
        &self.view
    }
}

impl AccountInitialize for UncheckedAccount {
    type Params<'a> = ();

    #[inline(always)]
    fn create_and_initialize<'a>(
        payer: &AccountView,
        account: &AccountView,
        space: usize,
        owner: &Address,
        _params: &(),
        signer_seeds: Option<&[&[u8]]>,
        payer_signer_seeds: Option<&[&[u8]]>,
    ) -> Result<Self, ProgramError> {
        crate::create_account_with_signers(
            payer,
            account,
            space,
            owner,
            signer_seeds,
            payer_signer_seeds,
        )?;
        Self::load(*account)
    }
}

impl ForeignOwnerInit for UncheckedAccount {}

view_wrapper_traits!(UncheckedAccount);

#[doc(hidden)]
impl crate::IdlAccountType for UncheckedAccount {}
