import type { Mainspring } from 'mainspring';

/**
 * The shop's checkout: `POST /api/shop/checkout` turns the caller's cart
 * into an order, all or nothing. Everything runs in one transaction, so two
 * buyers of the last poster cannot both get it: the stock check, the
 * decrement, the order and the emptied cart commit together or not at all.
 */

interface CartItem {
  id: string;
  product: string;
  quantity: number;
  /** The unit price the buyer saw when adding the line (the create rule makes it the price of that moment). */
  price: number;
}

interface Product {
  id: string;
  name: string;
  price: number;
  stock: number;
}

/** A cart holds one line per product; more than this many lines is not a cart we check out. */
const MAX_LINES = 100;

const money = (cents: number) => (cents / 100).toFixed(2);

export default (ms: Mainspring) => {
  const soldOut = (product: Product, wanted: number) =>
    new ms.ConflictError(
      product.stock === 0 ? `"${product.name}" is sold out.` : `Only ${product.stock} of "${product.name}" left; your cart has ${wanted}.`,
      {
        product: {
          code: 'sold_out',
          message: `Not enough "${product.name}" in stock.`,
          params: { id: product.id, name: product.name, available: product.stock, requested: wanted },
        },
      },
    );

  ms.routerAdd(
    'POST',
    '/api/shop/checkout',
    async (e) => {
      const user = e.auth!.record.id; // requireAuth below lets only signed-in users through
      // On PostgreSQL this body may run again after a serialization failure: it touches only the database.
      return e.runInTransaction(async (tx) => {
        const cart = (await tx.find('cart_items', {
          filter: 'user = {:user}',
          params: { user },
          limit: MAX_LINES + 1,
        })) as unknown as CartItem[];
        if (cart.length === 0) {
          throw new ms.BadRequestError('Your cart is empty.', { cart: { code: 'empty', message: 'Add a product to your cart first.' } });
        }
        if (cart.length > MAX_LINES) {
          throw new ms.BadRequestError(`A cart holds at most ${MAX_LINES} products.`, {
            cart: { code: 'too_many_lines', message: `At most ${MAX_LINES} products per order.` },
          });
        }
        // rows are changed in one order (by product id) by every checkout, so two checkouts never wait on each other in a cycle
        cart.sort((a, b) => (a.product < b.product ? -1 : a.product > b.product ? 1 : 0));

        const lines: { item: CartItem; product: Product }[] = [];
        for (const item of cart) {
          const product = (await tx.findById('products', item.product)) as unknown as Product | null;
          // deleting a product removes it from carts (cascade), so this is a product deleted while we read
          if (!product) throw new ms.ConflictError('A product in your cart is no longer sold; review your cart.');
          if (product.price !== item.price) {
            throw new ms.ConflictError(
              `The price of "${product.name}" changed from ${money(item.price)} to ${money(product.price)}; review your cart.`,
              {
                price: {
                  code: 'price_changed',
                  message: `"${product.name}" now costs ${money(product.price)}.`,
                  params: { id: product.id, name: product.name, was: item.price, now: product.price },
                },
              },
            );
          }
          if (product.stock < item.quantity) throw soldOut(product, item.quantity);
          lines.push({ item, product });
        }

        for (const { item, product } of lines) {
          try {
            // applied to the row as it is in this transaction; stock's min 0 refuses going below zero
            await tx.update('products', product.id, { 'stock-': item.quantity });
          } catch (err) {
            if (err instanceof ms.ApiError && err.status === 400 && 'stock' in err.data) throw soldOut(product, item.quantity);
            throw err;
          }
        }

        const total = lines.reduce((sum, { item, product }) => sum + product.price * item.quantity, 0);
        const order = await tx.create('orders', { user, total, status: 'placed' });
        const orderLines = [];
        for (const { item, product } of lines) {
          orderLines.push(
            await tx.create('order_lines', {
              order: order.id,
              product: product.id,
              name: product.name,
              price: product.price,
              quantity: item.quantity,
            }),
          );
        }
        for (const item of cart) await tx.delete('cart_items', item.id);
        return { ...order, lines: orderLines };
      });
    },
    ms.requireAuth('users'),
  );
};
